from django.apps import AppConfig


class BoardsConfig(AppConfig):
    name = "boards"
    verbose_name = "Boards and follows"

    def ready(self) -> None:
        from boards import page_stamps

        page_stamps.connect()
