"""Service-layer tests: the incident lifecycle without the HTTP layer."""

from __future__ import annotations

import pytest

from fireline.accounts import service as accounts
from fireline.core.db import Database
from fireline.core.errors import ArgumentsCausedError, InvalidInputError
from fireline.incidents import catalog, lifecycle
from fireline.incidents.schemas import IncidentFields, Reference, ServiceFields
from fireline.incidents.timeline import Agent


async def _service_and_agent(db: Database) -> tuple[str, Agent]:
    async with db.transaction() as session:
        user = await accounts.create_user(session=session, email="svc@example.com",
                                          name="Svc User", role="responder")
        service = await catalog.create_service(session=session,
                                               data=ServiceFields(name="Lifecycle"))
        return service.id, Agent.user(user)


def _fields(service_id: str, key: str | None = None) -> IncidentFields:
    return IncidentFields(type="incident", title="t", incident_key=key,
                          service=Reference(id=service_id, type="service_reference"))


async def test_incident_numbers_increase(db: Database) -> None:
    async with db.transaction() as session:
        numbers = [await lifecycle.next_incident_number(session) for _ in range(3)]
    async with db.transaction() as session:
        numbers.append(await lifecycle.next_incident_number(session))
    assert numbers == sorted(numbers) and len(set(numbers)) == 4


async def test_wf2_open_incident_refuses_a_duplicate_key_without_raising(db: Database) -> None:
    service_id, agent = await _service_and_agent(db)
    async with db.transaction() as session:
        first = await lifecycle.create_incident(session=session, agent=agent,
                                                data=_fields(service_id, "k"))
    async with db.transaction() as session:
        service = await catalog.get_service(session=session, service_id=service_id)
        duplicate = await lifecycle.open_incident(session=session, agent=agent,
                                                  data=lifecycle.NewIncident(
            service=service, title="again", urgency="high", incident_key="k"))
        assert duplicate is None
        found = await lifecycle.find_open(session=session, service_id=service_id,
                                          incident_key="k")
        assert found is not None and found.id == first.id
    with pytest.raises(ArgumentsCausedError):
        async with db.transaction() as session:
            await lifecycle.create_incident(session=session, agent=agent,
                                            data=_fields(service_id, "k"))


async def test_resolved_incident_cannot_be_acknowledged(db: Database) -> None:
    service_id, agent = await _service_and_agent(db)
    async with db.transaction() as session:
        incident = await lifecycle.create_incident(session=session, agent=agent,
                                                   data=_fields(service_id))
        assert lifecycle.change_status(session=session, incident=incident, agent=agent,
                                       status="resolved")
        assert not lifecycle.change_status(session=session, incident=incident, agent=agent,
                                           status="resolved")
        with pytest.raises(InvalidInputError):
            lifecycle.change_status(session=session, incident=incident, agent=agent,
                                    status="acknowledged")


async def test_unknown_service_priority_and_assignee_are_invalid(db: Database) -> None:
    service_id, agent = await _service_and_agent(db)
    async with db.transaction() as session:
        with pytest.raises(Exception, match="Service Not Found"):
            await lifecycle.create_incident(session=session, agent=agent,
                                            data=_fields("PNOSERVICE"))
        with pytest.raises(InvalidInputError):
            await lifecycle.create_incident(session=session, agent=agent, data=IncidentFields(
                type="incident", title="t", service=Reference(id=service_id),
                priority=Reference(id="PNOPRIORITY")))
