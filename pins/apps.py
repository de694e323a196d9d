from django.apps import AppConfig


class PinsConfig(AppConfig):
    name = "pins"
    verbose_name = "Pins and media"

    def ready(self) -> None:
        from pinsite import page_cache

        page_cache.connect_signals()
