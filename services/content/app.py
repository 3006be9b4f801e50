"""Wire content's servicer to its database and its writer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anthropic
from leadengine.content.v1 import content_service_pb2 as pb
from leadengine.content.v1 import content_service_pb2_grpc as pb_grpc

from services.content import backlog_probes
from services.content.claims import Claims
from services.content.claude.analyzer import ClaudeAnalyzer
from services.content.claude.breaker import CircuitBreaker
from services.content.claude.calls import ApiCaller
from services.content.claude.writer import ClaudeWriter
from services.content.config import Config
from services.content.generation import Generation
from services.content.reply_analysis import LexiconAnalyzer, ReplyAnalyzer
from services.content.repository import MessageRepository
from services.content.servicer import ContentServicer
from services.content.settings_repository import ContentSettingsRepository
from services.content.templates import TemplateWriter
from services.content.usage_repository import Budgets, UsageRepository
from services.content.writer import MessageWriter
from shared import backlog
from shared.clients import Peers
from shared.db import Database
from shared.server import Registration, ServiceApp

# A claim outlives its holder's longest Claude call, plus storing the message.
_CLAIM_MARGIN_S = 10.0


def create_app(db: Database, peers: Peers, cfg: Config) -> ServiceApp:
    # The writer is the seam for Claude: anything with `async write(Draft) -> Written`.
    # The template writer is also the fallback for any other writer's failing drafts.
    repo = MessageRepository(db)
    usage = UsageRepository(db)
    budgets = Budgets(usage, cfg.claude.monthly_budget_micros_usd)
    templates = TemplateWriter()
    settings = ContentSettingsRepository(db)
    writer: MessageWriter = templates
    analyzer: ReplyAnalyzer = LexiconAnalyzer()
    on_stop: list[Callable[[], Awaitable[None]]] = []
    if cfg.claude.enabled:
        # One client per process; its retries are ours (calls.ApiCaller), so the SDK's are off.
        client = anthropic.AsyncAnthropic(
            api_key=cfg.claude.api_key,
            base_url=cfg.claude.base_url or None,
            timeout=cfg.claude.attempt_timeout_s,
            max_retries=0,
        )
        on_stop.append(client.close)
        caller = ApiCaller(
            client, cfg.claude, CircuitBreaker(cfg.claude.breaker_failures, cfg.claude.breaker_cooldown_s)
        )
        writer = ClaudeWriter(caller, cfg.claude, templates, usage, budgets)
        analyzer = ClaudeAnalyzer(caller, cfg.claude, usage, budgets)
    # Templates cost nothing, and add() already keeps one message per request_id: only a paid
    # writer needs the claim's extra round trips.
    claims = Claims(db, ttl_s=cfg.claude.total_timeout_s + _CLAIM_MARGIN_S) if cfg.claude.enabled else None
    servicer = ContentServicer(
        Generation(repo, writer, templates, cfg, settings, claims),
        repo,
        settings,
        usage=usage,
        budgets=budgets,
        analyzer=analyzer,
    )
    return ServiceApp(
        registrations=[
            Registration(
                pb.DESCRIPTOR.services_by_name["ContentService"].full_name,
                pb_grpc.add_ContentServiceServicer_to_server,
                servicer,
            )
        ],
        error_domain="content.leadengine",
        background=[backlog.sampler("content", db, backlog_probes.PROBES, cfg.server.metrics_sample_s)],
        on_stop=on_stop,
    )
