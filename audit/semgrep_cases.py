# ruff: noqa
# Cases for audit/semgrep.yml, checked by `semgrep --test` (make audit): each `ruleid:` line
# must be found, each `ok:` line must not. Never imported.
from django.db import connection
from django.db.models.expressions import RawSQL
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt

PIN_COUNT = "SELECT count(*) FROM pins_pin"


def sql(request, Pin, cursor, build_somewhere):
    q = request.GET["q"]
    # ruleid: sql-text-built-from-values
    cursor.execute(f"SELECT * FROM pins_pin WHERE title = '{q}'")
    # ruleid: sql-text-built-from-values
    cursor.execute("SELECT * FROM pins_pin WHERE title = '%s'" % q)
    # ruleid: sql-text-built-from-values
    cursor.execute("SELECT * FROM pins_pin WHERE title = '{}'".format(q))
    # ruleid: sql-text-built-from-values
    Pin.objects.raw("SELECT * FROM pins_pin WHERE title = '" + q + "'")
    # ruleid: sql-text-built-from-values
    Pin.objects.annotate(x=RawSQL(f"SELECT '{q}'", []))
    # ok: sql-text-built-from-values
    cursor.execute("SELECT * FROM pins_pin WHERE title = %s", [q])
    # ok: sql-text-from-variable
    cursor.execute(PIN_COUNT)
    text = build_somewhere()
    # ruleid: sql-text-from-variable
    cursor.execute(text, [q])
    # ruleid: sql-text-from-variable
    Pin.objects.raw(text)
    # ok: sql-text-from-variable
    connection.cursor().execute("SELECT 1")
    # ruleid: queryset-extra
    Pin.objects.extra(where=["title = %s"], params=[q])


def html(request, title):
    # ok: mark-safe-non-literal
    mark_safe("<b>fixed</b>")
    # ruleid: mark-safe-non-literal
    mark_safe("<b>" + title + "</b>")
    # ruleid: mark-safe-non-literal
    mark_safe(title)
    # ok: format-html-preformatted
    format_html("<b>{}</b>", title)
    # ruleid: format-html-preformatted
    format_html(f"<b>{title}</b>")
    # ruleid: format-html-preformatted
    format_html("<b>%s</b>" % title)
    # ruleid: format-html-preformatted
    format_html(title)


def redirects(request):
    target = request.GET.get("next", "/")
    if request.POST.get("a"):
        # ruleid: redirect-to-request-data
        return redirect(target)
    if request.POST.get("b"):
        # ruleid: redirect-to-request-data
        return HttpResponseRedirect(request.META["HTTP_REFERER"])
    # ok: redirect-to-request-data
    return redirect("pins:home")


def checked_redirect(request):
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    # ok: redirect-to-request-data
    return redirect(target)


def user_redirect(request):
    # ok: redirect-to-request-data
    return redirect(request.user.get_absolute_url())


def object_redirect(request, services, BoardForm, board_create):
    form = BoardForm(request.POST or None)
    if form.is_valid():
        # ok: redirect-to-request-data
        return redirect(form.cleaned_data["board"])
    if request.POST.get("a"):
        # ok: redirect-to-request-data
        return redirect(services.pin_save(pin=request.POST["pin"]))
    board = board_create(name=request.POST["name"])
    # ok: redirect-to-request-data
    return redirect(board)


# ruleid: csrf-exempt
@csrf_exempt
def hook(request):
    return None


# ruleid: csrf-exempt
hooked = csrf_exempt(hook)
