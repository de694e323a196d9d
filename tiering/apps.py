from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class TieringConfig(AppConfig):
    name = "tiering"
    verbose_name = "Storage tiering"

    def ready(self) -> None:
        # Imported here, as apps' modules are: the models must be loaded first.
        from tiering import receivers  # noqa: F401 - connects tiering to media's signals
        from tiering.policy import prices_with

        # Start-up stops here on a price table the sweep would refuse, not at the first sweep.
        try:
            prices_with(settings.TIERING_PRICES)
        except ValueError as error:
            raise ImproperlyConfigured(
                f"TIERING_PRICES is not a usable price table: {error}"
            ) from None
