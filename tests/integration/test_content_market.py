"""Market facts: imported through gRPC and `leadengine import-market`, used only when present and fresh."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as pb

from cli import content_data
from cli.main import build_parser
from tests.support import error_reason as reason
from tests.support import field_violations, mesh

ADDRESS = "100 Congress Ave, Austin, TX 78701"
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
async def m(migrated_dsn):
    async with mesh(
        migrated_dsn, only=("content",), overrides={"content": {"postal_address": ADDRESS}}
    ) as running:
        yield running


@pytest.fixture
def content(m):
    return m.clients.content


def unique_city() -> str:
    return f"Marketville {uuid.uuid4().hex[:8]}"


def unique_zip() -> str:
    return f"{random.randint(10000, 99999)}"


def fact(
    *, zip_code: str = "", city: str = "", price: int = 425_000, age_days: int = 10, **kw
) -> pb.MarketFact:
    base = dict(
        zip=zip_code,
        city=city,
        median_price_usd=price,
        days_on_market=34,
        inventory=812,
        as_of_date=(TODAY - timedelta(days=age_days)).isoformat(),
    )
    return pb.MarketFact(**{**base, **kw})


async def imported(content, *facts: pb.MarketFact) -> pb.ImportMarketFactsResponse:
    return await content.ImportMarketFacts(pb.ImportMarketFactsRequest(facts=facts), timeout=5)


async def re_engagement(content, *, city: str = "", zip_code: str = "") -> pb.Message:
    req = pb.GenerateMessageRequest(
        lead_id=str(uuid.uuid4()),
        location_id="loc-market",
        channel=common_pb2.CHANNEL_EMAIL,
        purpose=pb.MESSAGE_PURPOSE_RE_ENGAGEMENT,
        context=pb.MessageContext(lead_first_name="Maria", brand_name="Oak Realty", city=city, zip=zip_code),
    )
    return (await content.GenerateMessage(req, timeout=5)).message


async def test_fresh_facts_for_the_leads_city_are_written_in(content) -> None:
    city = unique_city()
    assert (await imported(content, fact(city=city))).stored == 1
    body = (await re_engagement(content, city=city)).body
    assert "$425,000" in body
    assert "34 days" in body
    assert "812" in body


async def test_stale_or_missing_facts_are_never_written(content) -> None:
    stale, missing = unique_city(), unique_city()
    await imported(content, fact(city=stale, age_days=46))  # CONTENT_MARKET_MAX_AGE_DAYS defaults to 45
    for city in (stale, missing):
        msg = await re_engagement(content, city=city)
        assert "$" not in msg.body
        assert "days" not in msg.body
        assert {v.rule: v.passed for v in msg.guardrail_verdicts}["numbers"]


async def test_the_zip_wins_over_the_city_and_a_newer_row_wins_over_an_older(content) -> None:
    city, zip_code = unique_city(), unique_zip()
    await imported(content, fact(city=city, price=300_000), fact(zip_code=zip_code, price=510_000))
    assert "$510,000" in (await re_engagement(content, city=city, zip_code=zip_code)).body
    older = await imported(content, fact(zip_code=zip_code, price=111_000, age_days=20))
    assert (older.stored, older.skipped_older) == (0, 1)
    newer = await imported(content, fact(zip_code=zip_code, price=520_000, age_days=1))
    assert newer.stored == 1
    assert "$520,000" in (await re_engagement(content, zip_code=zip_code)).body
    # In one file, the newest row of an area wins whatever the order.
    zip2 = unique_zip()
    both = await imported(
        content, fact(zip_code=zip2, price=600_000, age_days=2), fact(zip_code=zip2, price=1, age_days=30)
    )
    assert (both.stored, both.skipped_older) == (1, 1)
    assert "$600,000" in (await re_engagement(content, zip_code=zip2)).body


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (fact(), "facts[1].zip"),  # neither zip nor city
        (fact(zip_code="7870", city=""), "facts[1].zip"),
        (fact(city="Austin", zip_code="78701"), "facts[1].zip"),
        (fact(city="Somewhere", price=0), "facts[1].median_price_usd"),
        (fact(city="Somewhere", as_of_date="2026-13-01"), "facts[1].as_of_date"),
        (fact(city="Somewhere", age_days=-3), "facts[1].as_of_date"),
        (fact(city="Somewhere", days_on_market=-1), "facts[1].days_on_market"),
    ],
)
async def test_one_bad_row_stores_nothing(content, bad, field) -> None:
    city = unique_city()
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await imported(content, fact(city=city), bad)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(exc.value) == [field]
    assert reason(exc.value) == "INVALID_ARGUMENT"
    assert "$" not in (await re_engagement(content, city=city)).body


async def test_cli_import_market_reads_a_csv(m, content, tmp_path) -> None:
    city, zip_code = unique_city(), unique_zip()
    as_of = (TODAY - timedelta(days=3)).isoformat()
    path = tmp_path / "market.csv"
    path.write_text(
        "zip,city,median_price_usd,days_on_market,inventory,as_of_date\n"
        f',{city},"$455,000",21,640,{as_of}\n'
        f"{zip_code},,389000,18,77,{as_of}\n"
    )
    args = build_parser().parse_args(["import-market", str(path)])
    assert args.command == "import-market"
    assert await content_data.import_market(path, m.clients) == 0
    assert "$455,000" in (await re_engagement(content, city=city.upper())).body
    assert "$389,000" in (await re_engagement(content, zip_code=zip_code)).body
    path.write_text("zip,city,price\n1,2,3\n")
    assert await content_data.import_market(path, m.clients) == 1  # header names the missing columns
    path.write_text(
        f"zip,city,median_price_usd,days_on_market,inventory,as_of_date\n,{city},lots,1,1,{as_of}\n"
    )
    assert await content_data.import_market(path, m.clients) == 1
