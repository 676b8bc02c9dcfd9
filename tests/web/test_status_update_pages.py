"""An incident's status updates, stakeholders and conference bridge on its page, in-process:
each form through the service the REST views call, refused beside its field with what was
typed kept, swapped in place by htmx when refused; the HTML of a status update sanitised as it
is shown; opening the incident marks its status updates read, and the header counts the
viewer's unread ones."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select, update

from fireline.accounts import service as accounts
from fireline.core.db import Database
from fireline.incidents.status_updates import Delivery, StatusUpdate
from tests.conftest import Actor
from tests.incidents.helpers import create_incident, create_service, writer_headers
from tests.web.helpers import HTML, HTMX, PASSWORD, error_of, flash, sign_in


async def _incident(client: httpx.AsyncClient, admin: Actor, title: str = "Disk full"
                    ) -> dict[str, Any]:
    service = await create_service(client, admin, f"Checkout for {title}")
    created = await create_incident(client, admin, service["id"], title)
    assert created.status_code == 201, created.text
    return created.json()["incident"]  # type: ignore[no-any-return]


def _section(page: str, id_: str) -> str:
    found = re.search(rf'<section id="{id_}".*?</section>', page, re.DOTALL)
    assert found, page
    return found[0]


def _informed(page: str) -> str:
    """The bridge, status updates and stakeholders: the block htmx swaps."""
    found = re.search(r'<div id="keep-informed">.*?</section>\s*</div>', page, re.DOTALL)
    assert found, page
    return found[0]


class _Form:
    """Posts an incident page's forms as the browser does without JavaScript."""

    def __init__(self, client: httpx.AsyncClient, url: str, csrf: str) -> None:
        self.client, self.url, self.csrf = client, url, csrf

    async def done(self, action: str, **data: Any) -> str:
        """A form accepted: the 303 back to the incident, then the page it leads to."""
        answer = await self.client.post(f"{self.url}/{action}",
                                        data={"csrf_token": self.csrf, **data})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == self.url
        return (await self.client.get(self.url, headers=HTML)).text

    async def refused(self, action: str, headers: dict[str, str] = HTML, **data: Any) -> str:
        answer = await self.client.post(f"{self.url}/{action}", headers=headers,
                                        data={"csrf_token": self.csrf, **data})
        assert answer.status_code == 400, answer.text
        return answer.text


async def test_a_status_update_sent_from_the_page_is_shown_newest_first_and_notifies(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    responder: Actor = await make_actor("responder", password=PASSWORD)
    admin: Actor = await make_actor("admin")
    incident = await _incident(client, admin)
    url = f"/incidents/{incident['id']}"
    form = _Form(client, url, await sign_in(client, responder.user.email))
    page = (await client.get(url, headers=HTML)).text
    assert "No status updates yet." in page
    assert f'action="{url}/status_updates" hx-post="{url}/status_updates"' in page

    await form.done("stakeholders", subscriber=f"user:{admin.user.id}")
    shown = await form.done("status_updates", message="  Rolled back the deploy.\n",
                            subject="Checkout recovering")
    assert flash(shown) == "success: Status update sent; 1 user notified."
    await form.done("status_updates", message="Error rate back to normal.", subject="")
    shown = (await client.get(url, headers=HTML)).text
    updates = _section(shown, "status-updates")
    assert updates.index("Error rate back to normal.") < updates.index(
        "Rolled back the deploy.")  # newest first
    assert "<h3>Checkout recovering</h3>" in updates
    assert f'<a href="/users/{responder.user.id}">Responder User</a>' in updates
    assert "<strong>Status update</strong>" in _section(shown, "timeline")

    listed = await client.get(f"/api/incidents/{incident['id']}/status_updates",
                              headers=admin.headers)
    assert [(item["message"], item.get("subject"), item["sender"]["id"])
            for item in listed.json()["status_updates"]] == [
        ("Error rate back to normal.", None, responder.user.id),
        ("Rolled back the deploy.", "Checkout recovering", responder.user.id)]
    async with db.session() as session:
        delivered = list(await session.scalars(select(Delivery.user_id)))
    assert delivered == [admin.user.id] * 2


async def test_an_empty_or_too_long_status_update_is_refused_beside_its_field(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin", password=PASSWORD)
    incident = await _incident(client, admin)
    form = _Form(client, f"/incidents/{incident['id']}", await sign_in(client, admin.user.email))

    empty = await form.refused("status_updates", message="  ", subject="Kept subject")
    assert error_of(empty, "status-update-message") == "Write the status update first."
    assert 'value="Kept subject"' in empty and "Disk full" in empty  # the whole page again
    long_subject = "S" * 1025
    refused = await form.refused("status_updates", message="Kept message", subject=long_subject)
    assert "at most 1024 characters" in (error_of(refused, "status-update-subject") or "")
    assert ">Kept message</textarea>" in refused and f'value="{long_subject}"' in refused

    # htmx swaps the section alone in place.
    partial = await form.refused("status_updates", headers=HTMX, message="")
    assert partial.lstrip().startswith('<div id="keep-informed">')
    assert "<html" not in partial and "Timeline" not in partial
    assert error_of(partial, "status-update-message") == "Write the status update first."
    accepted = await client.post(f"/incidents/{incident['id']}/status_updates", headers=HTMX,
                                 data={"csrf_token": form.csrf, "message": "Contained."})
    assert accepted.status_code == 204  # htmx follows HX-Redirect to the page
    assert accepted.headers["hx-redirect"] == f"/incidents/{incident['id']}"
    listed = await client.get(f"/api/incidents/{incident['id']}/status_updates",
                              headers=admin.headers)
    assert [item["message"] for item in listed.json()["status_updates"]] == ["Contained."]


async def test_stakeholders_are_added_and_removed_and_an_unknown_team_is_refused(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    responder: Actor = await make_actor("responder", password=PASSWORD)
    admin: Actor = await make_actor("admin")
    async with db.transaction() as session:
        team = await accounts.create_team(session=session, name="Payments")
    incident = await _incident(client, admin)
    url = f"/incidents/{incident['id']}"
    form = _Form(client, url, await sign_in(client, responder.user.email))
    page = (await client.get(url, headers=HTML)).text
    assert "No stakeholders yet." in page
    assert f'<option value="team:{team.id}">Payments</option>' in page

    shown = await form.done("stakeholders", subscriber=f"team:{team.id}")
    assert flash(shown) == "success: Payments will be notified of status updates."
    shown = await form.done("stakeholders", subscriber=f"user:{admin.user.id}")
    stakeholders = _section(shown, "stakeholders")
    assert f'<a href="/teams/{team.id}">Payments</a> <span class="muted">(team)</span>' \
        in stakeholders
    assert f'<a href="/users/{admin.user.id}">Admin User</a>' in stakeholders
    assert f'value="team:{team.id}"' not in stakeholders  # not offered twice
    again = await form.done("stakeholders", subscriber=f"user:{admin.user.id}")
    assert flash(again) == "success: Admin User is a stakeholder already."

    unknown = await form.refused("stakeholders", subscriber="team:PNOSUCH")
    assert error_of(unknown, "stakeholder-subscriber") == "Team PNOSUCH not found"
    nothing = await form.refused("stakeholders", subscriber="")
    assert error_of(nothing, "stakeholder-subscriber") == "Choose a user or a team."

    remove = f"stakeholders/team/{team.id}/remove"
    assert f'action="{url}/{remove}"' in shown
    assert 'aria-label="Remove Payments from the stakeholders"' in shown
    removed = await form.done(remove)
    assert flash(removed) == "success: Payments is no longer a stakeholder."
    assert f'<a href="/teams/{team.id}">' not in _section(removed, "stakeholders")
    assert flash(await form.done(remove)) == "success: Payments was not a stakeholder."
    odd = await form.refused("stakeholders/group/x/remove")
    assert '<p class="form-error" role="alert">' in _section(odd, "stakeholders")

    listed = await client.get(f"/api/incidents/{incident['id']}/status_updates/subscribers",
                              headers=admin.headers)
    assert [(item["subscriber_type"], item["subscriber_id"])
            for item in listed.json()["subscribers"]] == [("user", admin.user.id)]


async def test_the_conference_bridge_is_set_refused_beside_its_field_and_removed(
    client: httpx.AsyncClient, make_actor
) -> None:
    responder: Actor = await make_actor("responder", password=PASSWORD)
    admin: Actor = await make_actor("admin")
    incident = await _incident(client, admin)
    url = f"/incidents/{incident['id']}"
    form = _Form(client, url, await sign_in(client, responder.user.email))
    assert "No conference bridge." in (await client.get(url, headers=HTML)).text

    shown = await form.done("conference_bridge", conference_number="+1 415-555-1212,,1234#",
                            conference_url="https://meet.example/fire?room=1&pin=2")
    assert flash(shown) == "success: Conference bridge set."
    bridge = _section(shown, "conference-bridge")
    assert "<dd>+1 415-555-1212,,1234#</dd>" in bridge
    assert ('<a href="https://meet.example/fire?room=1&amp;pin=2" rel="noopener noreferrer">'
            in bridge)
    assert 'value="https://meet.example/fire?room=1&amp;pin=2"' in bridge  # the form's now
    same = await form.done("conference_bridge", conference_number="+1 415-555-1212,,1234#",
                           conference_url="https://meet.example/fire?room=1&pin=2")
    assert flash(same) == "success: The conference bridge is unchanged."

    script = await form.refused("conference_bridge", conference_number="+44 20 7946 0000",
                                conference_url="javascript:alert(document.cookie)")
    assert error_of(script, "bridge-conference_url") == (
        "conference_url must be an http:// or https:// URL")
    assert 'aria-describedby="bridge-conference_url-hint bridge-conference_url-error"' in script
    assert 'value="javascript:alert(document.cookie)"' in script  # kept, in the input only
    assert 'href="javascript:' not in script
    assert 'value="+44 20 7946 0000"' in script
    number = await form.refused("conference_bridge", conference_number="call Bob")
    assert "a phone number may hold digits" in (
        error_of(number, "bridge-conference_number") or "")
    partial = await form.refused("conference_bridge", headers=HTMX, conference_url="data:,x")
    assert partial.lstrip().startswith('<div id="keep-informed">')
    assert error_of(partial, "bridge-conference_url")

    body = (await client.get(f"/api/incidents/{incident['id']}",
                             headers=admin.headers)).json()["incident"]
    assert body["conference_bridge"] == {"conference_number": "+1 415-555-1212,,1234#",
                                         "conference_url": "https://meet.example/fire?room=1&pin=2"}
    removed = await form.done("conference_bridge")  # the Remove button sends neither field
    assert flash(removed) == "success: Conference bridge removed."
    assert "No conference bridge." in removed
    assert "<strong>Conference bridge changed</strong>" in _section(removed, "timeline")
    body = (await client.get(f"/api/incidents/{incident['id']}",
                             headers=admin.headers)).json()["incident"]
    assert body["conference_bridge"] is None


async def test_an_observer_sees_updates_stakeholders_and_bridge_but_no_forms(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    observer: Actor = await make_actor("observer", password=PASSWORD)
    incident = await _incident(client, admin)
    api = f"/api/incidents/{incident['id']}"
    assert (await client.post(f"{api}/status_updates", headers=writer_headers(admin),
                              json={"message": "Investigating."})).status_code == 200
    assert (await client.post(f"{api}/status_updates/subscribers", headers=admin.headers,
                              json={"subscribers": [{"subscriber_id": observer.user.id,
                                                     "subscriber_type": "user"}]})
            ).status_code == 200
    assert (await client.put(api, headers=writer_headers(admin), json={"incident": {
        "conference_bridge": {"conference_url": "https://meet.example/x"}}})).status_code == 200
    url = f"/incidents/{incident['id']}"
    csrf = await sign_in(client, observer.user.email)

    page = (await client.get(url, headers=HTML)).text
    informed = _informed(page)
    assert "Investigating." in informed and "Observer User" in informed
    assert 'href="https://meet.example/x" rel="noopener noreferrer"' in informed
    assert "<form" not in informed and "hx-post" not in informed
    for action, data in (("status_updates", {"message": "Hi"}),
                         ("stakeholders", {"subscriber": f"user:{admin.user.id}"}),
                         (f"stakeholders/user/{observer.user.id}/remove", {}),
                         ("conference_bridge", {})):
        refused = await client.post(f"{url}/{action}", headers=HTML,
                                    data={"csrf_token": csrf, **data})
        assert refused.status_code == 403, action
        assert "Your role may not change incidents" in refused.text
    listed = (await client.get(f"{api}/status_updates", headers=admin.headers)).json()
    assert len(listed["status_updates"]) == 1


async def test_the_forms_need_the_csrf_token_WEB_1(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin", password=PASSWORD)
    incident = await _incident(client, admin)
    url = f"/incidents/{incident['id']}"
    await sign_in(client, admin.user.email)
    page = (await client.get(url, headers=HTML)).text
    informed = _informed(page)
    assert informed.count('<form method="post"') == informed.count('name="csrf_token"') == 3
    for action in ("status_updates", "stakeholders", "conference_bridge"):
        refused = await client.post(f"{url}/{action}", headers=HTML,
                                    data={"message": "Hi", "conference_url": "https://a.example"})
        assert refused.status_code == 403, action
    assert (await client.get(f"/api/incidents/{incident['id']}/status_updates",
                             headers=admin.headers)).json()["status_updates"] == []


async def test_a_status_updates_html_is_sanitised_again_as_it_is_shown(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin", password=PASSWORD)
    incident = await _incident(client, admin)
    sent = await client.post(
        f"/api/incidents/{incident['id']}/status_updates", headers=writer_headers(admin),
        json={"message": "See the details.", "subject": "Fire",
              "html_message": '<p onclick="steal()">Still <b>burning</b></p>'
                              '<script>alert("sent")</script>'
                              '<a href="javascript:alert(2)">x</a>'
                              '<a href="https://status.example/1">status</a>'})
    assert sent.status_code == 200, sent.text
    # One stored before sanitising on save (or edited in the database): shown sanitised too.
    async with db.transaction() as session:
        await session.execute(update(StatusUpdate).values(
            html_message='<img src=x onerror="alert(3)"><script>alert("stored")</script>'
                         '<i>kept</i>'))
    await sign_in(client, admin.user.email)

    page = (await client.get(f"/incidents/{incident['id']}", headers=HTML)).text
    updates = _section(page, "status-updates")
    assert "<i>kept</i>" in updates and "<summary>HTML version</summary>" in updates
    assert "See the details." in updates
    for gone in ("<script>alert", "alert(", "onerror", "onclick", "javascript:"):
        assert gone not in page, gone


async def test_opening_an_incident_marks_its_status_updates_read_and_the_header_counts_them(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    responder: Actor = await make_actor("responder", password=PASSWORD)
    first = await _incident(client, admin, "Disk full")
    second = await _incident(client, admin, "CPU hot")
    for incident, messages in ((first, ["Freeing space.", "Space freed."]),
                               (second, ["Scaling out."])):
        api = f"/api/incidents/{incident['id']}/status_updates"
        await client.post(f"{api}/subscribers", headers=admin.headers, json={"subscribers": [
            {"subscriber_id": responder.user.id, "subscriber_type": "user"}]})
        for message in messages:
            sent = await client.post(api, headers=writer_headers(admin),
                                     json={"message": message})
            assert sent.json()["status_update"]["notified_count"] == 1
    await sign_in(client, responder.user.email)

    home = (await client.get("/incidents", headers=HTML)).text
    assert "<summary>3 unread status updates</summary>" in home
    assert (f'<a href="/incidents/{first["id"]}">#{first["incident_number"]} Disk full: '
            "Space freed.</a>") in home
    assert f'<a href="/incidents/{second["id"]}">' in home

    opened = (await client.get(f"/incidents/{first['id']}", headers=HTML)).text
    assert "<summary>1 unread status update</summary>" in opened  # this one's are read now
    async with db.session() as session:
        unread = set(await session.scalars(select(Delivery.incident_id).where(
            Delivery.user_id == responder.user.id, Delivery.read_at.is_(None))))
    assert unread == {second["id"]}
    await client.get(f"/incidents/{second['id']}", headers=HTML)
    assert "unread status update" not in (await client.get("/incidents", headers=HTML)).text
