"""The Workflow Integrations pages in-process: the catalog, a tool's table, the add/edit form
generated from the tool's schema, Verify now and Delete — through the same service as the API,
against the fake Elasticsearch. The browser layer (tests/served) drives the same pages in
Chromium."""

from __future__ import annotations

import re

import httpx

from fireline.integrations import registry
from tests.connections.conftest import ES_HOST, ES_KEY
from tests.integrations.fakes import elasticsearch as fake_es
from tests.web.helpers import signed_in

ROOT = "/integrations/workflow-integrations"
HTML = {"Accept": "text/html"}
WRONG_KEY = fake_es.api_key_pair("pd", "wrong-key-7d1c")



def _es_form(csrf: str, name: str, key: str, **extra: str) -> dict[str, str]:
    return {"csrf_token": csrf, "name": name,
            "configuration.url": f"https://{ES_HOST}:9200", "secrets.api_key": key,
            "access": "all", **extra}


async def _add(client: httpx.AsyncClient, csrf: str, name: str = "Prod logs") -> str:
    added = await client.post(f"{ROOT}/elasticsearch/connections",
                              data=_es_form(csrf, name, ES_KEY))
    assert added.status_code == 303, added.text
    return str(added.headers["location"])


async def test_the_catalog_lists_the_19_tools_with_add_buttons_for_managers(
    client: httpx.AsyncClient, make_actor
) -> None:
    (await signed_in(client, make_actor, "manager"))[1]
    page = await client.get(ROOT, headers=HTML)
    assert page.status_code == 200
    for integration in registry.INTEGRATIONS:
        assert f'id="tool-{integration.slug}"' in page.text
        assert f"Add Connection to {integration.title}" in page.text
    assert len(registry.INTEGRATIONS) == 19


async def test_responders_see_the_catalog_read_only(client: httpx.AsyncClient,
                                                    make_actor) -> None:
    (await signed_in(client, make_actor, "responder"))[1]
    page = await client.get(ROOT, headers=HTML)
    assert page.status_code == 200 and "Add Connection" not in page.text
    refused = await client.get(f"{ROOT}/elasticsearch/connections/new", headers=HTML)
    assert refused.status_code == 403 and "<h1>" in refused.text


async def test_a_refused_key_shows_elasticsearchs_reason_beside_the_field_and_stores_nothing(
    client: httpx.AsyncClient, make_actor
) -> None:
    csrf = (await signed_in(client, make_actor))[1]
    refused = await client.post(f"{ROOT}/elasticsearch/connections",
                                data=_es_form(csrf, "Prod logs", WRONG_KEY))
    assert refused.status_code == 400
    field = re.search(r'id="field-secrets-api_key-error">([^<]*)<', refused.text)
    assert field and "unable to authenticate" in field[1], refused.text
    assert 'aria-invalid="true"' in refused.text
    assert 'value="Prod logs"' in refused.text  # what was typed stays, but never the key
    assert WRONG_KEY not in refused.text
    listed = await client.get("/api/workflows/integrations/elasticsearch/connections",
                              headers={"X-CSRF-Token": csrf})
    assert listed.json()["connections"] == []


async def test_a_bad_url_is_shown_on_the_url_field(client: httpx.AsyncClient, make_actor) -> None:
    csrf = (await signed_in(client, make_actor))[1]
    refused = await client.post(f"{ROOT}/elasticsearch/connections",
                                data=_es_form(csrf, "x", ES_KEY, **{
                                    "configuration.url": "http://plain.example.com"}))
    assert refused.status_code == 400
    assert re.search(r'id="field-configuration-url-error">[^<]*https', refused.text)


async def test_add_then_table_then_edit_keeps_the_secret_then_verify_and_delete(
    client: httpx.AsyncClient, make_actor
) -> None:
    csrf = (await signed_in(client, make_actor))[1]
    page_url = await _add(client, csrf)
    page = await client.get(page_url, headers=HTML)
    assert page.status_code == 200 and "Healthy" in page.text and "Added" in page.text
    assert "Connection “Prod logs” added: Healthy" in page.text  # the flash
    assert ES_KEY not in page.text and "(stored, never shown)" in page.text

    table = await client.get(f"{ROOT}/elasticsearch", headers=HTML)
    assert "Prod logs" in table.text and "All admins and global managers" in table.text

    edit = await client.get(f"{page_url}/edit", headers=HTML)
    assert "leave empty to keep it" in edit.text and ES_KEY not in edit.text
    saved = await client.post(page_url, data={**_es_form(csrf, "Renamed", ""),
                                              "is_default": "on"})
    assert saved.status_code == 303, saved.text
    after = await client.get(page_url, headers=HTML)
    assert "Renamed" in after.text and "Yes: used by" in after.text and "Healthy" in after.text

    verified = await client.post(f"{page_url}/verify", data={"csrf_token": csrf})
    assert verified.status_code == 303
    assert "Verify now" in (await client.get(page_url, headers=HTML)).text

    confirm = await client.get(f"{page_url}/delete", headers=HTML)
    assert "This action cannot be undone" in confirm.text
    deleted = await client.post(f"{page_url}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert (await client.get(page_url, headers=HTML)).status_code == 404


async def test_htmx_gets_the_form_alone_and_errors_swap_in(client: httpx.AsyncClient,
                                                           make_actor) -> None:
    csrf = (await signed_in(client, make_actor))[1]
    htmx = {**HTML, "HX-Request": "true"}
    fragment = await client.get(f"{ROOT}/web_api/connections/new", headers=htmx)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="modal-title"' in fragment.text and "Allowed Hostnames" in fragment.text
    assert '<textarea id="field-configuration-allowed_hostnames"' in fragment.text
    refused = await client.post(f"{ROOT}/elasticsearch/connections",
                                data=_es_form(csrf, "", ES_KEY), headers=htmx)
    assert refused.status_code == 400 and "<html" not in refused.text
    assert 'id="field-name-error"' in refused.text
    added = await client.post(f"{ROOT}/elasticsearch/connections",
                              data=_es_form(csrf, "Via htmx", ES_KEY), headers=htmx)
    assert added.status_code == 204 and added.headers["hx-redirect"].startswith(ROOT)


async def test_forms_need_the_csrf_token(client: httpx.AsyncClient, make_actor) -> None:
    (await signed_in(client, make_actor))[1]
    forged = await client.post(f"{ROOT}/elasticsearch/connections",
                               data=_es_form("forged", "x", ES_KEY), headers=HTML)
    assert forged.status_code == 403


async def test_aws_shows_the_account_external_id_and_trust_policy_before_the_role_arn(
    client: httpx.AsyncClient, make_actor
) -> None:
    (await signed_in(client, make_actor))[1]
    form = await client.get(f"{ROOT}/aws/connections/new", headers=HTML)
    external_id = re.search(r'id="aws-external-id">([0-9a-f]+)<', form.text)
    assert external_id, form.text
    assert form.text.index('id="aws-external-id"') < form.text.index(
        'id="field-configuration-role_arn"')
    assert f'name="external_id" value="{external_id[1]}"' in form.text
    # This server has no FIRELINE_AWS_ACCOUNT_ID: no policy IAM would refuse, a note instead.
    assert "arn:aws:iam:::root" not in form.text
    assert "once an administrator sets FIRELINE_AWS_ACCOUNT_ID" in form.text


async def test_selects_for_regions_and_a_hint_that_follows_dynatraces_environment_type(
    client: httpx.AsyncClient, make_actor
) -> None:
    (await signed_in(client, make_actor))[1]
    sumo = await client.get(f"{ROOT}/sumo_logic/connections/new", headers=HTML)
    assert re.search(r'<select id="field-configuration-deployment"', sumo.text)
    for tool, field in (("logzio", "region"), ("new_relic", "region")):
        page = await client.get(f"{ROOT}/{tool}/connections/new", headers=HTML)
        assert f'<select id="field-configuration-{field}"' in page.text
    dynatrace = await client.get(f"{ROOT}/dynatrace/connections/new", headers=HTML)
    assert 'data-hint-source="configuration.environment_type"' in dynatrace.text
    slack = await client.get(f"{ROOT}/slack/connections/new", headers=HTML)
    assert "to authorize" in slack.text and "field-secrets" not in slack.text
