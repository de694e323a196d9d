"""The tiering models move here from pins, state only: their tables (pins_tieringpolicy,
pins_tieringsweep, pins_tiertransition, pins_storagesnapshot) were made by pins' migration 0005
and keep their names and rows."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('pins', '0007_saves_index'),
        ('media', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables stay as they are (pins_*); only Django's idea of which app owns them moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='StorageSnapshot',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField(unique=True)),
                        ('objects_by_tier', models.JSONField(default=dict, help_text='{tier: object count}')),
                        ('bytes_by_tier', models.JSONField(default=dict, help_text='{tier: bytes}')),
                        ('monthly_cost', models.DecimalField(decimal_places=4, help_text='$ as stored.', max_digits=14)),
                        ('monthly_cost_all_standard', models.DecimalField(decimal_places=4, max_digits=14)),
                        ('monthly_cost_intelligent', models.DecimalField(decimal_places=4, help_text='$ if S3 Intelligent-Tiering held everything (monitoring fee included).', max_digits=14)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'db_table': 'pins_storagesnapshot',
                        'ordering': ['-day'],
                    },
                ),
                migrations.CreateModel(
                    name='TieringSweep',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('status', models.CharField(choices=[('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], default='running', max_length=8)),
                        ('mode', models.CharField(choices=[('app', 'pinsite moves objects by observed access'), ('intelligent', 'S3 Intelligent-Tiering decides (new originals go there)'), ('off', 'Off: nothing moves')], max_length=12)),
                        ('dry_run', models.BooleanField(default=False)),
                        ('bytes_moved_on_storage', models.BooleanField(default=True, help_text='False on local disk: tiers are recorded, no bytes move.')),
                        ('examined', models.PositiveBigIntegerField(default=0, help_text='Objects looked at.')),
                        ('moved', models.PositiveBigIntegerField(default=0, help_text='Objects moved (or to move).')),
                        ('bytes_moved', models.PositiveBigIntegerField(default=0)),
                        ('s3_calls', models.PositiveBigIntegerField(default=0)),
                        ('expected_monthly_saving', models.DecimalField(decimal_places=6, default=0, max_digits=14)),
                        ('error', models.TextField(blank=True)),
                    ],
                    options={
                        'db_table': 'pins_tieringsweep',
                        'ordering': ['-started_at'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('status', 'running'), ('finished_at__isnull', False), _connector='OR'), name='pins_tieringsweep_finished_has_time')],
                    },
                ),
                migrations.CreateModel(
                    name='TieringPolicy',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('mode', models.CharField(choices=[('app', 'pinsite moves objects by observed access'), ('intelligent', 'S3 Intelligent-Tiering decides (new originals go there)'), ('off', 'Off: nothing moves')], default='app', max_length=12)),
                        ('infrequent_after_days', models.PositiveIntegerField(default=30, help_text='Days without access before STANDARD_IA is considered.')),
                        ('archive_after_days', models.PositiveIntegerField(default=90, help_text='Days without access before GLACIER_IR is considered.')),
                        ('min_object_bytes', models.PositiveBigIntegerField(default=131072, help_text='Smaller objects stay STANDARD (S3 bills them as 128 KB).')),
                        ('horizon_days', models.PositiveIntegerField(default=180, help_text="How far ahead a move's saving is counted.")),
                        ('promote_reads_per_month', models.FloatField(default=1.0, help_text='Read rate from which moving back to a warmer tier is considered.')),
                        ('batch_size', models.PositiveIntegerField(default=500, help_text='Assets per batch in a sweep (each batch is one transaction).')),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('updated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name_plural': 'tiering policy',
                        'db_table': 'pins_tieringpolicy',
                        'constraints': [models.CheckConstraint(condition=models.Q(('pk', 1)), name='pins_tieringpolicy_single_row'), models.CheckConstraint(condition=models.Q(('batch_size__gte', 1), ('batch_size__lte', 10000)), name='pins_tieringpolicy_batch_size_range')],
                    },
                ),
                migrations.CreateModel(
                    name='TierTransition',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(help_text='The object moved.', max_length=512)),
                        ('object_bytes', models.PositiveBigIntegerField()),
                        ('from_tier', models.CharField(choices=[('STANDARD', 'Standard'), ('STANDARD_IA', 'Standard-IA'), ('GLACIER_IR', 'Glacier Instant Retrieval'), ('GLACIER', 'Glacier Flexible Retrieval (restore before reading)'), ('INTELLIGENT_TIERING', 'Intelligent-Tiering (S3 decides)')], max_length=20)),
                        ('to_tier', models.CharField(choices=[('STANDARD', 'Standard'), ('STANDARD_IA', 'Standard-IA'), ('GLACIER_IR', 'Glacier Instant Retrieval'), ('GLACIER', 'Glacier Flexible Retrieval (restore before reading)'), ('INTELLIGENT_TIERING', 'Intelligent-Tiering (S3 decides)')], max_length=20)),
                        ('cause', models.CharField(choices=[('policy', 'Policy (sweep)'), ('staff', 'Pinned by staff'), ('restore', 'Restored on access')], default='policy', max_length=8)),
                        ('reason', models.CharField(max_length=200)),
                        ('expected_monthly_saving', models.DecimalField(decimal_places=8, help_text='$ a month, expected; negative if staff chose.', max_digits=14)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('asset', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='transitions', to='media.mediaasset')),
                        ('sweep', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='transitions', to='tiering.tieringsweep')),
                    ],
                    options={
                        'db_table': 'pins_tiertransition',
                        'indexes': [models.Index(fields=['created_at'], name='pins_tiertransition_created')],
                        'constraints': [models.CheckConstraint(condition=models.Q(('from_tier', models.F('to_tier')), _negated=True), name='pins_tiertransition_changes_tier')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
