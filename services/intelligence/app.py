"""Wire intelligence's servicer to its database, its cache and ingest."""

from __future__ import annotations

from datetime import timedelta

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb
from redis import asyncio as aioredis

from services.intelligence import backlog_probes, scoring, wire
from services.intelligence.activity import ActivityReader
from services.intelligence.bulk import BulkScoring
from services.intelligence.config import Config
from services.intelligence.import_scoring import ImportScoring, ScoringRequests, WorkerSettings
from services.intelligence.lead_scoring import LeadScoring, LocationState
from services.intelligence.listing import HighIntentListing
from services.intelligence.location_ops import LocationOps
from services.intelligence.outcomes import OutcomeRepository
from services.intelligence.points_config import PointsRepository
from services.intelligence.repository import ScoreRepository
from services.intelligence.score_batches import ScoreBatches
from services.intelligence.servicer import IntelligenceServicer
from services.intelligence.trigger_firing import TriggerFiring
from services.intelligence.trigger_repository import TriggerRepository
from shared import backlog, retention
from shared.cache import TwoLevelCache
from shared.clients import Peers
from shared.db import Database
from shared.server import Registration, ServiceApp

# Socket timeouts keep a slow Redis from slowing reads: past them the breaker counts a failure.
REDIS_TIMEOUT_S = 0.25


def create_redis(url: str | None) -> aioredis.Redis | None:
    if not url:
        return None
    return aioredis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S, health_check_interval=30
    )


def create_app(db: Database, peers: Peers, cfg: Config) -> ServiceApp:
    rules = scoring.Rules(
        half_life_days=cfg.half_life_days,
        window_days=cfg.event_window_days,
        daily_cap=cfg.daily_event_cap,
        warm_threshold=cfg.warm_score,
        hot_threshold=cfg.hot_score,
    )
    redis = create_redis(cfg.redis_url)
    cache = TwoLevelCache(
        "intelligence", redis, namespace="intelligence:v2", max_entries=cfg.cache_max_entries
    )
    activity = ActivityReader(peers)
    scores = ScoreRepository(db)
    points = PointsRepository(db, rules)
    outcomes = OutcomeRepository(db, rules)
    state = LocationState(points, outcomes, cache)
    lead_scoring = LeadScoring(scores, activity, rules, state, cache)
    listing = HighIntentListing(
        db,
        lead_scoring,
        state,
        rules,
        cache,
        high_intent_score=cfg.high_intent_score,
        page_ttl_s=cfg.page_cache_ttl_s,
    )
    ops = LocationOps(scores, points, BulkScoring(db, peers, rules), listing, state, rules, cache)
    import_scoring = ImportScoring(ScoringRequests(db), ops, WorkerSettings())
    servicer = IntelligenceServicer(
        lead_scoring,
        listing,
        ops,
        outcomes,
        cache,
        TriggerFiring(TriggerRepository(db), activity, max_lookback=timedelta(days=rules.window_days)),
        ScoreBatches(db),
        import_scoring,
    )

    async def warm() -> None:
        await listing.warm_all()

    app = ServiceApp(
        registrations=[
            Registration(
                pb.DESCRIPTOR.services_by_name["IntelligenceService"].full_name,
                wire.add_to_server,
                servicer,
            )
        ],
        error_domain="intelligence.leadengine",
        background=[
            cache.listen,
            warm,
            import_scoring.run,
            backlog.sampler("intelligence", db, backlog_probes.PROBES, cfg.server.metrics_sample_s),
            retention.loop(db, cfg.retention, interval_s=cfg.prune_interval_s),
        ],
    )
    if redis is not None:
        app.on_stop.extend([cache.drain, redis.aclose])
    app.cache = cache  # type: ignore[attr-defined]
    return app
