"""Builds the configured connector from settings: swapping ticketing systems is a config change."""

from __future__ import annotations

from models.settings import Settings

from .base import TicketingConnector

CONNECTORS = ("rt", "zendesk", "jira", "freshdesk", "webhook")


def _secret(value) -> str:
    if value is None:
        raise ValueError("a required ticketing secret is not set")
    return value.get_secret_value()


def make_connector(settings: Settings, name: str | None = None, transport=None) -> TicketingConnector:
    name = name or settings.ticketing_connector
    hosts = tuple(settings.outbound_allowed_hosts)
    if name == "rt":
        from .rt import RTConfig, RTConnector

        return RTConnector(RTConfig(base_url=settings.rt_url, token=_secret(settings.rt_token),
                                    triage_queue=settings.rt_triage_queue, defects_queue=settings.rt_defects_queue,
                                    allowed_hosts=hosts, transport=transport))
    if name == "zendesk":
        from .zendesk import ZendeskConfig, ZendeskConnector

        return ZendeskConnector(ZendeskConfig(base_url=settings.zendesk_url or "", email=settings.zendesk_email or "",
                                              api_token=_secret(settings.zendesk_token), allowed_hosts=hosts,
                                              custom_field_ids=settings.zendesk_custom_field_ids,
                                              transport=transport))
    if name == "jira":
        from .jira import JiraConfig, JiraConnector

        return JiraConnector(JiraConfig(base_url=settings.jira_url or "", email=settings.jira_email or "",
                                        api_token=_secret(settings.jira_token),
                                        project_key=settings.jira_project_key or "",
                                        alert_project_key=settings.jira_alert_project_key, allowed_hosts=hosts,
                                        transport=transport))
    if name == "freshdesk":
        from .freshdesk import FreshdeskConfig, FreshdeskConnector

        return FreshdeskConnector(FreshdeskConfig(base_url=settings.freshdesk_url or "",
                                                  api_key=_secret(settings.freshdesk_api_key), allowed_hosts=hosts,
                                                  requester_email=settings.freshdesk_requester_email,
                                                  transport=transport))
    if name == "webhook":
        from .webhook import WebhookConfig, WebhookConnector

        return WebhookConnector(WebhookConfig(url=_secret(settings.webhook_url), secret=_secret(settings.webhook_secret),
                                              allowed_hosts=hosts, transport=transport))
    raise ValueError(f"unknown ticketing connector {name!r}; known: {list(CONNECTORS)}")


def make_dispatcher(settings: Settings, db, connector_names: list[str] | None = None, transport=None):
    """The outbox dispatcher for the configured (or named) connectors, with the settings' retry policy."""
    from inference.outbox import Dispatcher, DispatchPolicy

    names = connector_names or ([settings.ticketing_connector] if settings.ticketing_connector else [])
    if not names:
        raise ValueError("no connector configured: set FEEDBACK_TICKETING_CONNECTOR or pass --connector")
    connectors = {n: make_connector(settings, n, transport=transport) for n in names}
    policy = DispatchPolicy(max_attempts=settings.dispatch_max_attempts, base_delay_s=settings.dispatch_base_delay_s,
                            max_delay_s=settings.dispatch_max_delay_s, lease_s=settings.dispatch_lease_s)
    return Dispatcher(db, connectors, policy)
