from django.contrib import admin

from boards.models import Board, BoardCollaborator, BoardFollow, BoardPin


class BoardCollaboratorInline(admin.TabularInline):
    model = BoardCollaborator
    fk_name = "board"
    raw_id_fields = ["user", "invited_by"]
    extra = 0


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "is_secret", "created_at"]
    list_filter = ["is_secret", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "slug", "owner__username"]
    raw_id_fields = ["owner", "cover"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [BoardCollaboratorInline]


@admin.register(BoardCollaborator)
class BoardCollaboratorAdmin(admin.ModelAdmin):
    list_display = ["board", "user", "invited_by", "created_at"]
    list_select_related = ["board", "user", "invited_by"]
    search_fields = ["board__name", "user__username"]
    raw_id_fields = ["board", "user", "invited_by"]


@admin.register(BoardPin)
class BoardPinAdmin(admin.ModelAdmin):
    list_display = ["board", "pin", "position", "added_by", "added_at"]
    list_select_related = ["board", "pin", "added_by"]
    list_filter = ["board__is_secret"]
    search_fields = ["board__name", "pin__title"]
    raw_id_fields = ["board", "pin", "added_by"]


@admin.register(BoardFollow)
class BoardFollowAdmin(admin.ModelAdmin):
    list_display = ["follower", "board", "created_at"]
    list_select_related = ["follower", "board"]
    search_fields = ["follower__username", "board__name"]
    raw_id_fields = ["follower", "board"]
