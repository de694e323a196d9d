"""MediaAsset, MediaRendition and PendingUpload move here from pins, state only: their tables
(pins_mediaasset, pins_mediarendition, pins_pendingupload) were made by pins' migrations 0001-0007
and keep their names and rows."""

import django.db.models.deletion
import django.db.models.functions.text
import django.db.models.lookups
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('pins', '0007_saves_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables stay as they are (pins_*); only Django's idea of which app owns them moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='MediaAsset',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('image', 'Image'), ('video', 'Video')], default='image', max_length=8)),
                        ('original_key', models.CharField(help_text='Storage key of the original, chosen by the server.', max_length=512, unique=True)),
                        ('content_hash', models.CharField(blank=True, help_text="SHA-256 of the original's bytes, hex; finds duplicates.", max_length=64)),
                        ('byte_size', models.PositiveBigIntegerField(default=0, help_text='Size of the original in bytes.')),
                        ('format', models.CharField(blank=True, choices=[('jpeg', 'JPEG'), ('png', 'PNG'), ('gif', 'GIF'), ('webp', 'WebP'), ('heic', 'HEIC'), ('avif', 'AVIF'), ('mp4', 'MP4'), ('webm', 'WebM'), ('mov', 'QuickTime')], help_text='Sniffed from the bytes.', max_length=8)),
                        ('width', models.PositiveIntegerField(blank=True, help_text='Pixels, after orientation.', null=True)),
                        ('height', models.PositiveIntegerField(blank=True, help_text='Pixels, after orientation.', null=True)),
                        ('duration_ms', models.PositiveIntegerField(blank=True, help_text='Videos only.', null=True)),
                        ('status', models.CharField(choices=[('pending', 'Waiting to be processed'), ('processing', 'Processing'), ('ready', 'Ready'), ('failed', 'Failed')], default='pending', max_length=12)),
                        ('interrupted_runs', models.PositiveSmallIntegerField(default=0, help_text='Processing runs that never finished (worker killed, out of memory, time limit); the asset fails after a few.')),
                        ('failure_reason', models.TextField(blank=True, help_text='Shown to the owner when processing fails.')),
                        ('dominant_color', models.CharField(blank=True, help_text='#rrggbb shown in the card while the image loads.', max_length=7)),
                        ('placeholder', models.CharField(blank=True, help_text='ThumbHash of the image, base64: pages draw it while the thumbnail loads.', max_length=128)),
                        ('storage_tier', models.CharField(choices=[('STANDARD', 'Standard'), ('STANDARD_IA', 'Standard-IA'), ('GLACIER_IR', 'Glacier Instant Retrieval'), ('GLACIER', 'Glacier Flexible Retrieval (restore before reading)'), ('INTELLIGENT_TIERING', 'Intelligent-Tiering (S3 decides)')], default='STANDARD', help_text='Storage class of the original (renditions record their own).', max_length=20)),
                        ('tier_changed_at', models.DateTimeField(blank=True, help_text="Last tier change; S3's minimum-duration clock restarts.", null=True)),
                        ('last_accessed_at', models.DateTimeField(blank=True, help_text='Last time the app handed out a URL for its large view.', null=True)),
                        ('read_rate', models.FloatField(default=0.0, help_text='Reads a month, exponentially weighted (half-life 30 days), from the access counters as of read_rate_at.')),
                        ('read_rate_at', models.DateTimeField(blank=True, null=True)),
                        ('reads_total', models.PositiveBigIntegerField(default=0)),
                        ('tier_pinned', models.CharField(blank=True, choices=[('STANDARD', 'Standard'), ('STANDARD_IA', 'Standard-IA'), ('GLACIER_IR', 'Glacier Instant Retrieval'), ('GLACIER', 'Glacier Flexible Retrieval (restore before reading)'), ('INTELLIGENT_TIERING', 'Intelligent-Tiering (S3 decides)')], help_text="Staff keep this asset's objects in this tier, whatever the policy says.", max_length=20)),
                        ('tier_excluded', models.BooleanField(default=False, help_text='Staff excluded this asset from tiering: nothing moves.')),
                        ('restore_requested_at', models.DateTimeField(blank=True, help_text='A restore from an archive tier is under way; pages show it as preparing.', null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('processed_at', models.DateTimeField(blank=True, null=True)),
                        ('released_at', models.DateTimeField(blank=True, help_text='Set when the last reference went; the files are being deleted.', null=True)),
                        ('owner', models.ForeignKey(help_text='Who uploaded it. Saves by others keep pointing at the same asset.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='media_assets', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'pins_mediaasset',
                    },
                ),
                migrations.CreateModel(
                    name='MediaRendition',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('purpose', models.CharField(choices=[('grid', 'Grid thumbnail'), ('large', 'Large view'), ('poster', 'Video poster'), ('video', 'Video transcode')], max_length=8)),
                        ('width', models.PositiveIntegerField()),
                        ('height', models.PositiveIntegerField()),
                        ('format', models.CharField(help_text='webp, jpeg, avif or mp4.', max_length=8)),
                        ('key', models.CharField(help_text='Deterministic storage key.', max_length=512, unique=True)),
                        ('byte_size', models.PositiveBigIntegerField()),
                        ('storage_tier', models.CharField(choices=[('STANDARD', 'Standard'), ('STANDARD_IA', 'Standard-IA'), ('GLACIER_IR', 'Glacier Instant Retrieval'), ('GLACIER', 'Glacier Flexible Retrieval (restore before reading)'), ('INTELLIGENT_TIERING', 'Intelligent-Tiering (S3 decides)')], default='STANDARD', help_text='Renditions under the minimum billable size (128 KB) always stay STANDARD.', max_length=20)),
                        ('tier_changed_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('asset', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='renditions', to='media.mediaasset')),
                    ],
                    options={
                        'db_table': 'pins_mediarendition',
                    },
                ),
                migrations.CreateModel(
                    name='PendingUpload',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(help_text='uploads/<user>/<random>.', max_length=512, unique=True)),
                        ('max_bytes', models.PositiveBigIntegerField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('expires_at', models.DateTimeField(help_text="The browser's upload form stops working here.")),
                        ('confirmed_at', models.DateTimeField(blank=True, null=True)),
                        ('asset', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='media.mediaasset')),
                        ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='pending_uploads', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'pins_pendingupload',
                    },
                ),
                migrations.AddIndex(
                    model_name='mediaasset',
                    index=models.Index(fields=['status', 'updated_at'], name='pins_asset_status_updated'),
                ),
                migrations.AddIndex(
                    model_name='mediaasset',
                    index=models.Index(fields=['storage_tier', 'id'], name='pins_asset_tier_id'),
                ),
                migrations.AddConstraint(
                    model_name='mediaasset',
                    constraint=models.UniqueConstraint(condition=models.Q(('content_hash', ''), _negated=True), fields=('owner', 'content_hash'), name='pins_mediaasset_owner_hash_unique'),
                ),
                migrations.AddConstraint(
                    model_name='mediaasset',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'failed'), _negated=True), models.Q(('failure_reason', ''), _negated=True), _connector='OR'), name='pins_mediaasset_failed_has_reason'),
                ),
                migrations.AddConstraint(
                    model_name='mediaasset',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'ready'), _negated=True), models.Q(('height__gt', 0), ('height__isnull', False), ('width__gt', 0), ('width__isnull', False)), _connector='OR'), name='pins_mediaasset_ready_has_size'),
                ),
                migrations.AddConstraint(
                    model_name='mediaasset',
                    constraint=models.CheckConstraint(condition=models.Q(('kind', 'video'), ('duration_ms__isnull', True), _connector='OR'), name='pins_mediaasset_duration_video_only'),
                ),
                migrations.AddConstraint(
                    model_name='mediaasset',
                    constraint=models.CheckConstraint(condition=models.Q(('dominant_color', ''), models.Q(django.db.models.lookups.Exact(django.db.models.functions.text.Length('dominant_color'), 7), ('dominant_color__startswith', '#')), _connector='OR'), name='pins_mediaasset_dominant_color_hex'),
                ),
                migrations.AddConstraint(
                    model_name='mediaasset',
                    constraint=models.CheckConstraint(condition=models.Q(('read_rate__gte', 0)), name='pins_mediaasset_read_rate_not_negative'),
                ),
                migrations.AddConstraint(
                    model_name='mediaasset',
                    constraint=models.CheckConstraint(condition=models.Q(('tier_pinned', ''), ('tier_excluded', False), _connector='OR'), name='pins_mediaasset_tier_pinned_or_excluded'),
                ),
                migrations.AddConstraint(
                    model_name='mediarendition',
                    constraint=models.UniqueConstraint(fields=('asset', 'purpose', 'width', 'format'), name='pins_rendition_unique'),
                ),
                migrations.AddConstraint(
                    model_name='mediarendition',
                    constraint=models.CheckConstraint(condition=models.Q(('height__gt', 0), ('width__gt', 0)), name='pins_rendition_positive_size'),
                ),
                migrations.AddIndex(
                    model_name='pendingupload',
                    index=models.Index(condition=models.Q(('confirmed_at__isnull', True)), fields=['created_at'], name='pins_pendingupload_open'),
                ),
                migrations.AddConstraint(
                    model_name='pendingupload',
                    constraint=models.CheckConstraint(condition=models.Q(('confirmed_at__isnull', True), ('asset__isnull', False), _connector='OR'), name='pins_pendingupload_confirmed_has_asset'),
                ),
                migrations.AddConstraint(
                    model_name='pendingupload',
                    constraint=models.CheckConstraint(condition=models.Q(('key__startswith', 'uploads/')), name='pins_pendingupload_key_prefix'),
                ),
            ],
            database_operations=[],
        ),
    ]
