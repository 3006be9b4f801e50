"""Wire intelligence's servicer to its database and to ingest."""

from __future__ import annotations

from datetime import timedelta

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb
from leadengine.intelligence.v1 import intelligence_service_pb2_grpc as pb_grpc

from services.intelligence import scoring, triggers
from services.intelligence.activity import ActivityReader
from services.intelligence.config import Config
from services.intelligence.lead_scoring import LeadScoring
from services.intelligence.repository import ScoreRepository
from services.intelligence.score_batches import ScoreBatches
from services.intelligence.servicer import IntelligenceServicer
from services.intelligence.trigger_check import TriggerCheck
from services.intelligence.trigger_firing import TriggerFiring
from services.intelligence.trigger_repository import TriggerRepository
from shared.clients import Peers
from shared.db import Database
from shared.server import Registration, ServiceApp


def create_app(db: Database, peers: Peers, cfg: Config) -> ServiceApp:
    rules = scoring.Rules(
        half_life_days=cfg.half_life_days,
        window_days=cfg.event_window_days,
        daily_cap=cfg.daily_event_cap,
        warm_threshold=cfg.warm_score,
        hot_threshold=cfg.hot_score,
    )
    activity = ActivityReader(peers)
    servicer = IntelligenceServicer(
        LeadScoring(
            ScoreRepository(db),
            activity,
            rules,
            high_intent_score=cfg.high_intent_score,
            cache_ttl_s=cfg.cache_ttl_s,
        ),
        TriggerCheck(activity, window_days=rules.window_days, rules=triggers.TriggerRules()),
        TriggerFiring(TriggerRepository(db), activity, max_lookback=timedelta(days=rules.window_days)),
        ScoreBatches(db),
    )
    return ServiceApp(
        registrations=[
            Registration(
                pb.DESCRIPTOR.services_by_name["IntelligenceService"].full_name,
                pb_grpc.add_IntelligenceServiceServicer_to_server,
                servicer,
            )
        ],
        error_domain="intelligence.leadengine",
    )
