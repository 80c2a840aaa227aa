"""The chart pages in the system Chromium (Playwright): each loads without console errors (the strict
Content-Security-Policy included), each plot holds the traces of its embedded figure, and a screenshot of each
plot is not blank. Skipped where Chromium is not installed, unless REQUIRE_BROWSER=1 (CI) makes that a failure."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.conf import settings as dj_settings
from django.test import Client
from django.urls import reverse

import scoring
from outcomes import services
from outcomes.models import AccessToken
from outcomes.patient_views import SESSION_KEY
from registry import clock
from research.services import api_key_create
from tests import factories
from tests.browser.chromium import ARGS, CHROMIUM, playwright_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _episode(patient, staff, *, vas=(62, 35), koos=(2, 1)):
    episode = factories.EpisodeFactory(
        patient=patient, joint="knee", side="left", index_date=date.today() - timedelta(days=100)
    )
    koos_items = [item.code for item in scoring.get_instrument("koos").items]
    for tp, pain, value in zip(("baseline", "m3"), vas, koos, strict=True):
        fu = episode.follow_ups.get(timepoint=tp)
        when = datetime.combine(fu.target_date, time(12), tzinfo=UTC)
        for instrument, answers in (("vas", {"vas_mm": pain}), ("koos", dict.fromkeys(koos_items, value))):
            services.response_submit(
                follow_up=fu, instrument=instrument, answers=answers, by=staff, mode="phone", completed_at=when
            )
    factories.AdministrationFactory(episode=episode, administered_on=episode.index_date)
    factories.AdverseEventFactory(episode=episode, grade=1, onset_date=episode.index_date)
    return episode


@pytest.fixture
def browser(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_session() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _page(browser, live_server, *, user=None, session=None, mobile=False):
    if mobile:
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
        )
    else:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
    client = Client()
    if user is not None:
        client.force_login(user)
    if session is not None:
        s = client.session
        s.update(session)
        s.save()
    if user is not None or session is not None:
        context.add_cookies(
            [
                {
                    "name": dj_settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[dj_settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.console_errors = errors
    return page


def _not_blank(png: bytes) -> bool:
    if len(png) < 8_000:
        return False
    try:
        from PIL import Image
    except ImportError:
        return True
    image = Image.open(io.BytesIO(png)).convert("L")
    colours = image.getcolors(maxcolors=1 << 16) or [(0, 0)] * 1000
    return len(colours) > 20  # axes, text, lines and fills: far more than a blank or one-colour box


def _check_plots(page, expected: dict[str, int] | None = None) -> dict[str, int]:
    """Every plot drawn, its trace count equal to its figure's; returns {plot id: trace count}."""
    # Polled from here: wait_for_function evaluates its predicate with eval, which the page's CSP forbids.
    for _ in range(200):
        if page.evaluate(
            "() => { const p = Array.from(document.querySelectorAll('.chart-plot'));"
            " return p.length > 0 && p.every(e => e.dataset.rendered === 'true'); }"
        ):
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("the charts were not drawn within 20 s")
    counts = page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('.chart-plot')).map(e => [e.id, e.data.length]))"
    )
    embedded = page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('.chart-plot[data-figure]')).map(e => [e.id, "
        "JSON.parse(document.getElementById(e.dataset.figure).textContent).data.length]))"
    )
    for plot_id, n in embedded.items():
        assert counts[plot_id] == n, plot_id
        drawn = page.locator(f"#{plot_id} .trace").count() + page.locator(f"#{plot_id} .barlayer .trace").count()
        assert n == 0 or drawn > 0, plot_id
    if expected is not None:
        assert counts == expected
    for plot_id in counts:
        assert _not_blank(page.locator(f"#{plot_id}").screenshot()), plot_id
    return counts


OVERLAPS = """() => {
  // Pairs of text labels in each plot (axis ticks, annotations, legend) whose boxes intersect.
  const out = [];
  for (const plot of document.querySelectorAll('.chart-plot')) {
    const texts = Array.from(plot.querySelectorAll('.xtick text, .ytick text, .annotation-text, .legendtext'))
      .filter(t => t.textContent.trim() && t.getBoundingClientRect().width > 0);
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
      const a = texts[i].getBoundingClientRect(), b = texts[j].getBoundingClientRect();
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
        out.push(plot.id + ': ' + texts[i].textContent + ' / ' + texts[j].textContent);
    }
  }
  return out;
}"""


def no_overlaps(page, tmp_path=None, name: str = "") -> list[str]:
    if tmp_path is not None:
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    return page.evaluate(OVERLAPS)


def test_the_episode_page_draws_its_charts(live_server, browser, site_a):
    alice = factories.staff_user("alice", site_a)
    episode = _episode(factories.PatientFactory(site=site_a), alice)
    page = _page(browser, live_server, user=alice)
    page.goto(live_server.url + reverse("admin:registry_treatmentepisode_change", args=[episode.pk]))
    counts = _check_plots(page)
    # A full KOOS also gives WOMAC, KOOS JR and KOOS-12 (derived, drawn with the KOOS they come from).
    assert counts == {
        "plot-episode-koos": 5,
        "plot-episode-womac_from_koos": 2,
        "plot-episode-koos_jr_from_koos": 1,
        "plot-episode-koos12_from_koos": 4,
        "plot-episode-vas": 1,
    }
    assert no_overlaps(page) == []
    assert page.console_errors == []


def test_the_site_dashboard_draws_five_charts(live_server, browser, site_a, site_b):
    alice = factories.staff_user("alice", site_a)
    _episode(factories.PatientFactory(site=site_a), alice)
    _episode(factories.PatientFactory(site=site_b), factories.staff_user("bob", site_b))
    page = _page(browser, live_server, user=alice)
    page.goto(live_server.url + reverse("site_dashboard"))
    _check_plots(
        page,
        {
            "plot-completion": 6,
            "plot-response-rate": 1,
            "plot-call-list": 1,
            "plot-adverse-events": 1,
            "plot-treatments": 1,
        },
    )
    assert page.locator("#site-picker option").count() == 1
    assert no_overlaps(page) == []
    assert page.console_errors == []


def test_the_cohort_dashboard_for_the_registry_administrator(live_server, browser, site_a):
    alice = factories.staff_user("alice", site_a)
    for _ in range(12):
        _episode(factories.PatientFactory(site=site_a), alice)
    charlie = factories.UserFactory(username="charlie", is_staff=True, is_superuser=True)
    page = _page(browser, live_server, user=charlie)
    page.goto(live_server.url + reverse("cohort_dashboard") + "?score=koos.pain&group_by=")
    counts = _check_plots(page)
    assert counts["plot-trajectory"] == 1 and counts["plot-responders"] == 1 and counts["plot-km"] == 2
    assert page.locator(".chart-open-table caption", has_text="Numbers at risk").count() == 1
    assert no_overlaps(page) == []
    assert page.console_errors == []


def test_the_researcher_draws_the_cohort_with_a_key_held_in_the_tab(live_server, browser, site_a):
    alice = factories.staff_user("alice", site_a)
    for _ in range(12):
        _episode(factories.PatientFactory(site=site_a), alice)
    _key, raw = api_key_create(name="study", sites=[site_a], tier="rows")
    page = _page(browser, live_server)
    page.goto(live_server.url + reverse("cohort_dashboard") + "?score=vas.vas_mm&group_by=site")
    assert "Enter your research API key" in page.content()
    page.fill("#cohort-key", raw)
    page.get_by_role("button", name="Use this key").click()
    counts = _check_plots(page)
    assert counts["plot-trajectory"] == 1
    assert page.evaluate("window.sessionStorage.getItem('registry.researchKey')") == raw
    assert raw not in page.content()  # the key is not written into the page
    page.get_by_role("button", name="Forget the key").click()
    assert page.evaluate("window.sessionStorage.getItem('registry.researchKey')") is None
    assert page.locator(".chart-plot").count() == 0
    assert page.console_errors == []


def test_the_patient_sees_a_large_plain_chart(live_server, browser, site_a):
    alice = factories.staff_user("alice", site_a)
    patient = factories.PatientFactory(site=site_a)
    _episode(patient, alice)
    token = AccessToken.objects.create(token_hash="y" * 64, patient=patient, expires_at=clock.now() + timedelta(days=9))
    page = _page(browser, live_server, session={SESSION_KEY: token.pk}, mobile=True)
    page.goto(live_server.url + reverse("outcomes:patient_thanks"))
    counts = _check_plots(page)
    assert len(counts) == 2 and set(counts.values()) == {1}
    assert "Before treatment: 62. Now: 35." in page.content()
    assert no_overlaps(page) == []  # "3 months" and "6 months" do not run together at 390 pixels
    assert page.console_errors == []
