from django.apps import AppConfig


class PinsConfig(AppConfig):
    name = "pins"
    verbose_name = "Pins"

    def ready(self) -> None:
        from pins import page_stamps, receivers  # noqa: F401 - receivers connect on import

        page_stamps.connect()
