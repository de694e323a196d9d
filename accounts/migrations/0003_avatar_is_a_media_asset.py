"""Profile.avatar points at media.MediaAsset (the same table, pins_mediaasset): state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_initial'),
        ('media', '0001_initial'),
    ]

    operations = [
        # The tables stay as they are (pins_*); only Django's idea of which app owns them moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='profile',
                    name='avatar',
                    field=models.ForeignKey(blank=True, help_text='The avatar image; the asset is shared, so it is never deleted through a profile.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='media.mediaasset'),
                ),
            ],
            database_operations=[],
        ),
    ]
