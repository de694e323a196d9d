from django.apps import AppConfig


class PinsConfig(AppConfig):
    name = "pins"
    verbose_name = "Pins and media"
