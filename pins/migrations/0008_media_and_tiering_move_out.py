"""Media and tiering models leave pins for their own apps (media, tiering), state only: no table
is renamed and no row moves. Their content types follow them, so permissions granted on them
and the admin's history keep pointing at the same models."""

import django.db.models.deletion
from django.db import migrations, models

MOVED = {
    "media": ["mediaasset", "mediarendition", "pendingupload"],
    "tiering": ["tieringpolicy", "tieringsweep", "tiertransition", "storagesnapshot"],
}


def _relabel(apps, alias: str, source, target_of) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(alias)
    for app_label, models in MOVED.items():
        target = target_of(app_label)
        for model in models:
            if types.filter(app_label=target, model=model).exists():
                continue  # already there (made by a migrate that ran the new apps first)
            types.filter(app_label=source(app_label), model=model).update(
                app_label=target
            )


def content_types_follow(apps, schema_editor) -> None:
    _relabel(apps, schema_editor.connection.alias, lambda app: "pins", lambda app: app)


def content_types_return(apps, schema_editor) -> None:
    _relabel(apps, schema_editor.connection.alias, lambda app: app, lambda app: "pins")


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('tiering', '0001_initial'),
        ('accounts', '0003_avatar_is_a_media_asset'),
        ('media', '0001_initial'),
        ('pins', '0007_saves_index'),
    ]

    operations = [
        # The tables stay as they are (pins_*); only Django's idea of which app owns them moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='mediaasset',
                    name='owner',
                ),
                migrations.AlterField(
                    model_name='pin',
                    name='media',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='pins', to='media.mediaasset'),
                ),
                migrations.RemoveField(
                    model_name='mediarendition',
                    name='asset',
                ),
                migrations.RemoveField(
                    model_name='tiertransition',
                    name='asset',
                ),
                migrations.RemoveField(
                    model_name='pendingupload',
                    name='asset',
                ),
                migrations.RemoveField(
                    model_name='pendingupload',
                    name='owner',
                ),
                migrations.DeleteModel(
                    name='StorageSnapshot',
                ),
                migrations.RemoveField(
                    model_name='tieringpolicy',
                    name='updated_by',
                ),
                migrations.RemoveField(
                    model_name='tiertransition',
                    name='sweep',
                ),
                migrations.DeleteModel(
                    name='MediaRendition',
                ),
                migrations.DeleteModel(
                    name='MediaAsset',
                ),
                migrations.DeleteModel(
                    name='PendingUpload',
                ),
                migrations.DeleteModel(
                    name='TieringPolicy',
                ),
                migrations.DeleteModel(
                    name='TieringSweep',
                ),
                migrations.DeleteModel(
                    name='TierTransition',
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_follow, content_types_return),
    ]
