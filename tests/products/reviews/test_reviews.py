"""Reviews: the moderation flow, who sees what, and ratings over approved reviews only."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db import Database
from common.models.review import Review
from common.reviews.ratings import rating_problems
from tests.fixtures.factories import API, bearer, create_product, make_account

Headers = dict[str, str]


@pytest.fixture
async def customer(settings: Settings, isolated_database: Database) -> Headers:
    return bearer(await make_account(isolated_database, settings), settings)


@pytest.fixture
async def other_customer(settings: Settings, isolated_database: Database) -> Headers:
    return bearer(await make_account(isolated_database, settings), settings)


ANONYMOUS: Headers = {"Authorization": ""}


async def review(
    client: AsyncClient, product_id: int, headers: Headers, *, rating: int = 4, **fields: Any
) -> Any:
    body = {"rating": rating, "body": "Does what it says.", **fields}
    response = await client.post(f"{API}/products/{product_id}/reviews", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def moderate(client: AsyncClient, review_id: int, decision: str, **fields: Any) -> Any:
    response = await client.post(
        f"{API}/reviews/{review_id}/moderation", json={"decision": decision, **fields}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def listed_ids(client: AsyncClient, product_id: int, headers: Headers, **params: Any) -> Any:
    response = await client.get(
        f"{API}/products/{product_id}/reviews", headers=headers, params=params
    )
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def review_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Review)) or 0)


async def test_review_is_pending_until_an_admin_approves_it(
    admin_products_client: AsyncClient, customer: Headers
) -> None:
    product = await create_product(admin_products_client)
    posted = await review(admin_products_client, product["id"], customer, rating=5, title="Great")
    assert posted["status"] == "pending"
    assert posted["moderated_at"] is None
    assert await listed_ids(admin_products_client, product["id"], ANONYMOUS) == []

    queue = (await admin_products_client.get(f"{API}/reviews", params={"status": "pending"})).json()
    assert [item["id"] for item in queue["items"]] == [posted["id"]]

    me = (await admin_products_client.get("/auth/me")).json()
    approved = await moderate(admin_products_client, posted["id"], "approve", note="Checked")
    assert approved["status"] == "approved"
    assert approved["moderated_by"] == me["id"]
    assert approved["moderation_note"] == "Checked"
    assert approved["moderated_at"] is not None
    assert await listed_ids(admin_products_client, product["id"], ANONYMOUS) == [posted["id"]]
    queue = (await admin_products_client.get(f"{API}/reviews")).json()
    assert queue["items"] == []


async def test_queue_is_oldest_first_and_filters(
    admin_products_client: AsyncClient, customer: Headers, other_customer: Headers
) -> None:
    first, second = (
        await create_product(admin_products_client),
        await create_product(admin_products_client),
    )
    older = await review(admin_products_client, first["id"], customer)
    newer = await review(admin_products_client, second["id"], other_customer)
    queue = (await admin_products_client.get(f"{API}/reviews")).json()
    assert [item["id"] for item in queue["items"]] == [older["id"], newer["id"]]
    by_product = (
        await admin_products_client.get(f"{API}/reviews", params={"product_id": second["id"]})
    ).json()
    assert [item["id"] for item in by_product["items"]] == [newer["id"]]
    by_user = (
        await admin_products_client.get(f"{API}/reviews", params={"user_id": older["user_id"]})
    ).json()
    assert [item["id"] for item in by_user["items"]] == [older["id"]]


async def test_each_caller_sees_approved_reviews_and_their_own(
    admin_products_client: AsyncClient,
    customer: Headers,
    other_customer: Headers,
    settings: Settings,
    isolated_database: Database,
) -> None:
    product = await create_product(admin_products_client)
    third = bearer(await make_account(isolated_database, settings), settings)
    approved = await review(admin_products_client, product["id"], third)
    await moderate(admin_products_client, approved["id"], "approve")
    pending = await review(admin_products_client, product["id"], customer)
    rejected = await review(admin_products_client, product["id"], other_customer)
    await moderate(admin_products_client, rejected["id"], "reject", note="Off topic")

    pid = product["id"]
    assert await listed_ids(admin_products_client, pid, ANONYMOUS) == [approved["id"]]
    assert set(await listed_ids(admin_products_client, pid, customer)) == {
        approved["id"],
        pending["id"],
    }
    assert set(await listed_ids(admin_products_client, pid, other_customer)) == {
        approved["id"],
        rejected["id"],
    }
    assert set(await listed_ids(admin_products_client, pid, {})) == {
        approved["id"],
        pending["id"],
        rejected["id"],
    }
    assert await listed_ids(admin_products_client, pid, {}, status="rejected") == [rejected["id"]]
    # A filter narrows what the caller may see; it never widens it.
    assert await listed_ids(admin_products_client, pid, ANONYMOUS, status="pending") == []


async def test_moderation_note_is_for_the_author_and_admins(
    admin_products_client: AsyncClient, customer: Headers, other_customer: Headers
) -> None:
    product = await create_product(admin_products_client)
    posted = await review(admin_products_client, product["id"], customer)
    await moderate(admin_products_client, posted["id"], "approve", note="Verified purchase")
    url = f"{API}/products/{product['id']}/reviews"
    own = (await admin_products_client.get(url, headers=customer)).json()["items"][0]
    assert own["moderation_note"] == "Verified purchase"
    assert own["moderated_by"] is None
    seen = (await admin_products_client.get(url, headers=other_customer)).json()["items"][0]
    assert seen["moderation_note"] is None
    assert seen["moderated_by"] is None


async def test_second_review_of_a_product_is_409(
    admin_products_client: AsyncClient, customer: Headers, session: AsyncSession
) -> None:
    product = await create_product(admin_products_client)
    first = await review(admin_products_client, product["id"], customer)
    response = await admin_products_client.post(
        f"{API}/products/{product['id']}/reviews", json={"rating": 1, "body": "x"}, headers=customer
    )
    assert response.status_code == 409
    assert response.json()["code"] == "review_exists"
    assert response.json()["review_id"] == first["id"]
    assert await review_count(session) == 1


async def test_archived_product_takes_no_review(
    admin_products_client: AsyncClient, customer: Headers, session: AsyncSession
) -> None:
    product = await create_product(admin_products_client)
    await admin_products_client.delete(f"{API}/products/{product['id']}")
    response = await admin_products_client.post(
        f"{API}/products/{product['id']}/reviews", json={"rating": 3, "body": "x"}, headers=customer
    )
    assert response.status_code == 409
    assert response.json()["code"] == "product_archived"
    assert await review_count(session) == 0


async def test_review_of_a_missing_product_is_404(
    admin_products_client: AsyncClient, customer: Headers
) -> None:
    product = await create_product(admin_products_client)
    missing = product["id"] + 1000
    posted = await admin_products_client.post(
        f"{API}/products/{missing}/reviews", json={"rating": 3, "body": "x"}, headers=customer
    )
    listed = await admin_products_client.get(f"{API}/products/{missing}/reviews")
    assert posted.json()["code"] == listed.json()["code"] == "product_not_found"


async def test_admins_do_not_write_reviews(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    product = await create_product(admin_products_client)
    response = await admin_products_client.post(
        f"{API}/products/{product['id']}/reviews", json={"rating": 5, "body": "Ours is best"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert await review_count(session) == 0


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"rating": 0, "body": "x"}, "#/rating"),
        ({"rating": 6, "body": "x"}, "#/rating"),
        ({"rating": 3, "body": "nul \x00 byte"}, "#/body"),
        ({"rating": 3, "body": "   "}, "#/body"),
        ({"rating": 3, "body": "x" * 5001}, "#/body"),
        ({"rating": 3, "body": "x", "title": "t" * 201}, "#/title"),
        ({"rating": 3}, "#/body"),
    ],
)
async def test_invalid_review_is_422_and_stores_nothing(
    admin_products_client: AsyncClient,
    customer: Headers,
    session: AsyncSession,
    body: dict[str, Any],
    pointer: str,
) -> None:
    product = await create_product(admin_products_client)
    response = await admin_products_client.post(
        f"{API}/products/{product['id']}/reviews", json=body, headers=customer
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["pointer"] for error in response.json()["errors"]] == [pointer]
    assert await review_count(session) == 0


async def test_text_is_stored_and_returned_exactly_as_given(
    admin_products_client: AsyncClient, customer: Headers
) -> None:
    product = await create_product(admin_products_client)
    text = '  <script>alert("x")</script> & <b>bold</b> — ünïcode 👍  '
    posted = await review(
        admin_products_client, product["id"], customer, body=text, title=" <i>hi</i>"
    )
    assert posted["body"] == text
    assert posted["title"] == " <i>hi</i>"
    listed = (
        await admin_products_client.get(f"{API}/products/{product['id']}/reviews", headers=customer)
    ).json()
    assert listed["items"][0]["body"] == text


async def test_author_edit_goes_back_to_moderation(
    admin_products_client: AsyncClient, customer: Headers
) -> None:
    product = await create_product(admin_products_client)
    posted = await review(admin_products_client, product["id"], customer, rating=5)
    await moderate(admin_products_client, posted["id"], "approve", note="ok")
    response = await admin_products_client.patch(
        f"{API}/reviews/{posted['id']}", json={"rating": 2, "title": None}, headers=customer
    )
    assert response.status_code == 200
    edited = response.json()
    assert (edited["rating"], edited["title"], edited["status"]) == (2, None, "pending")
    assert edited["moderated_at"] is None
    assert edited["moderation_note"] is None
    assert await listed_ids(admin_products_client, product["id"], ANONYMOUS) == []


async def test_admin_edit_keeps_the_status(
    admin_products_client: AsyncClient, customer: Headers
) -> None:
    product = await create_product(admin_products_client)
    posted = await review(admin_products_client, product["id"], customer)
    await moderate(admin_products_client, posted["id"], "approve")
    response = await admin_products_client.patch(
        f"{API}/reviews/{posted['id']}", json={"body": "Edited by the shop"}
    )
    assert response.json()["status"] == "approved"
    assert response.json()["body"] == "Edited by the shop"


async def test_null_rating_in_an_edit_is_422(
    admin_products_client: AsyncClient, customer: Headers
) -> None:
    product = await create_product(admin_products_client)
    posted = await review(admin_products_client, product["id"], customer, rating=4)
    response = await admin_products_client.patch(
        f"{API}/reviews/{posted['id']}", json={"rating": None}, headers=customer
    )
    assert response.status_code == 422
    assert (
        await admin_products_client.get("/api/v1/reviews", params={"status": "pending"})
    ).json()["items"][0]["rating"] == 4


async def test_someone_elses_review_is_403_when_visible_and_404_when_not(
    admin_products_client: AsyncClient, customer: Headers, other_customer: Headers
) -> None:
    product = await create_product(admin_products_client)
    pending = await review(admin_products_client, product["id"], customer)
    url = f"{API}/reviews/{pending['id']}"
    hidden_patch = await admin_products_client.patch(
        url, json={"rating": 1}, headers=other_customer
    )
    hidden_delete = await admin_products_client.delete(url, headers=other_customer)
    assert hidden_patch.status_code == hidden_delete.status_code == 404
    assert hidden_patch.json()["code"] == "review_not_found"

    await moderate(admin_products_client, pending["id"], "approve")
    visible_patch = await admin_products_client.patch(
        url, json={"rating": 1}, headers=other_customer
    )
    visible_delete = await admin_products_client.delete(url, headers=other_customer)
    assert visible_patch.status_code == visible_delete.status_code == 403
    listed = (await admin_products_client.get(f"{API}/products/{product['id']}/reviews")).json()
    assert [(item["id"], item["rating"]) for item in listed["items"]] == [(pending["id"], 4)]


async def test_author_and_admin_may_delete(
    admin_products_client: AsyncClient, customer: Headers, other_customer: Headers
) -> None:
    product = await create_product(admin_products_client)
    own = await review(admin_products_client, product["id"], customer)
    other = await review(admin_products_client, product["id"], other_customer)
    assert (
        await admin_products_client.delete(f"{API}/reviews/{own['id']}", headers=customer)
    ).status_code == 204
    assert (await admin_products_client.delete(f"{API}/reviews/{other['id']}")).status_code == 204
    assert await listed_ids(admin_products_client, product["id"], {}) == []
    again = await admin_products_client.delete(f"{API}/reviews/{own['id']}")
    assert again.status_code == 404


async def test_ratings_count_approved_reviews_only(
    admin_products_client: AsyncClient, settings: Settings, isolated_database: Database
) -> None:
    product = await create_product(admin_products_client)
    other = await create_product(admin_products_client)
    ratings = {5: "approve", 4: "approve", 2: "approve", 1: "reject", 3: None}
    for rating, decision in ratings.items():
        author = bearer(await make_account(isolated_database, settings), settings)
        posted = await review(admin_products_client, product["id"], author, rating=rating)
        if decision:
            await moderate(admin_products_client, posted["id"], decision)

    summary = (
        await admin_products_client.get(f"{API}/products/{product['id']}/reviews/summary")
    ).json()
    assert summary["rating_count"] == 3
    assert Decimal(summary["rating_average"]) == Decimal("3.67")
    assert summary["histogram"] == [
        {"rating": 1, "count": 0},
        {"rating": 2, "count": 1},
        {"rating": 3, "count": 0},
        {"rating": 4, "count": 1},
        {"rating": 5, "count": 1},
    ]
    one = (await admin_products_client.get(f"{API}/products/{product['id']}")).json()
    assert (one["rating_count"], Decimal(one["rating_average"])) == (3, Decimal("3.67"))
    listing = (await admin_products_client.get(f"{API}/products", params={"limit": 200})).json()
    by_id = {item["id"]: item for item in listing["items"]}
    assert by_id[product["id"]]["rating_count"] == 3
    assert Decimal(by_id[product["id"]]["rating_average"]) == Decimal("3.67")
    assert (by_id[other["id"]]["rating_count"], by_id[other["id"]]["rating_average"]) == (0, None)
    empty = (
        await admin_products_client.get(f"{API}/products/{other['id']}/reviews/summary")
    ).json()
    assert (empty["rating_count"], empty["rating_average"]) == (0, None)
    assert [bucket["count"] for bucket in empty["histogram"]] == [0, 0, 0, 0, 0]


async def test_sort_by_rating_then_newest(
    admin_products_client: AsyncClient, settings: Settings, isolated_database: Database
) -> None:
    product = await create_product(admin_products_client)
    posted = []
    for rating in (3, 5, 3):
        author = bearer(await make_account(isolated_database, settings), settings)
        posted.append(await review(admin_products_client, product["id"], author, rating=rating))
        await moderate(admin_products_client, posted[-1]["id"], "approve")
    best = await listed_ids(admin_products_client, product["id"], ANONYMOUS, sort="rating")
    assert best == [posted[1]["id"], posted[2]["id"], posted[0]["id"]]
    newest = await listed_ids(admin_products_client, product["id"], ANONYMOUS)
    assert newest == [posted[2]["id"], posted[1]["id"], posted[0]["id"]]
    page = await listed_ids(admin_products_client, product["id"], ANONYMOUS, limit=1, offset=1)
    assert page == [posted[1]["id"]]


async def test_customer_lists_own_reviews_in_every_status(
    admin_products_client: AsyncClient, customer: Headers, other_customer: Headers
) -> None:
    first, second = (
        await create_product(admin_products_client),
        await create_product(admin_products_client),
    )
    older = await review(admin_products_client, first["id"], customer)
    newer = await review(admin_products_client, second["id"], customer)
    await moderate(admin_products_client, older["id"], "reject", note="Spam")
    url = f"{API}/customers/{older['user_id']}/reviews"
    own = (await admin_products_client.get(url, headers=customer)).json()
    assert [(item["id"], item["status"]) for item in own["items"]] == [
        (newer["id"], "pending"),
        (older["id"], "rejected"),
    ]
    assert own["items"][1]["moderation_note"] == "Spam"
    as_admin = (await admin_products_client.get(url)).json()
    assert as_admin["total"] == 2
    stranger = await admin_products_client.get(url, headers=other_customer)
    assert stranger.status_code == 403


async def test_reviews_of_an_unknown_customer_are_404_for_admins(
    admin_products_client: AsyncClient, customer: Headers
) -> None:
    product = await create_product(admin_products_client)
    posted = await review(admin_products_client, product["id"], customer)
    response = await admin_products_client.get(
        f"{API}/customers/{posted['user_id'] + 1000}/reviews"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "customer_not_found"


async def product_rating(client: AsyncClient, product_id: int) -> tuple[int, Decimal | None]:
    body = (await client.get(f"{API}/products/{product_id}")).json()
    average = body["rating_average"]
    return body["rating_count"], None if average is None else Decimal(average)


async def test_rating_counters_follow_every_change_of_a_review(
    admin_products_client: AsyncClient, settings: Settings, isolated_database: Database
) -> None:
    product = await create_product(admin_products_client)
    pid = product["id"]
    authors = [bearer(await make_account(isolated_database, settings), settings) for _ in range(2)]
    first = await review(admin_products_client, pid, authors[0], rating=5)
    second = await review(admin_products_client, pid, authors[1], rating=2)
    assert await product_rating(admin_products_client, pid) == (0, None)  # pending counts nothing

    steps: list[tuple[str, Any, tuple[int, Decimal | None]]] = [
        (
            "approve first",
            lambda: moderate(admin_products_client, first["id"], "approve"),
            (1, "5.00"),
        ),
        (
            "approve again",
            lambda: moderate(admin_products_client, first["id"], "approve"),
            (1, "5.00"),
        ),
        (
            "approve second",
            lambda: moderate(admin_products_client, second["id"], "approve"),
            (2, "3.50"),
        ),
        (
            "admin edits an approved rating",
            lambda: admin_products_client.patch(
                f"{API}/reviews/{second['id']}", json={"rating": 3}
            ),
            (2, "4.00"),
        ),
        (
            "author edits: back to pending",
            lambda: admin_products_client.patch(
                f"{API}/reviews/{first['id']}", json={"rating": 1}, headers=authors[0]
            ),
            (1, "3.00"),
        ),
        (
            "reject second",
            lambda: moderate(admin_products_client, second["id"], "reject"),
            (0, None),
        ),
        (
            "approve first",
            lambda: moderate(admin_products_client, first["id"], "approve"),
            (1, "1.00"),
        ),
        (
            "approve second",
            lambda: moderate(admin_products_client, second["id"], "approve"),
            (2, "2.00"),
        ),
        (
            "delete an approved review",
            lambda: admin_products_client.delete(f"{API}/reviews/{first['id']}"),
            (1, "3.00"),
        ),
    ]
    for name, step, (count, average) in steps:
        await step()
        expected = (count, None if average is None else Decimal(average))
        assert await product_rating(admin_products_client, pid) == expected, name
        async with isolated_database.session_factory() as session:
            assert await rating_problems(session) == [], name


@pytest.mark.mysql_only
async def test_concurrent_review_changes_keep_the_counters_exact(
    committed_admin_products_client: AsyncClient, settings: Settings, committed_database: Database
) -> None:
    """Moderators and authors changing the same reviews at once: every change moves the
    counters from what the review was to what it became, under the review's row lock."""
    client = committed_admin_products_client
    product = await create_product(client)
    authors = [bearer(await make_account(committed_database, settings), settings) for _ in range(6)]
    reviews = [await review(client, product["id"], author, rating=3) for author in authors]
    rng = random.Random(7)

    def change(index: int) -> Any:
        target = rng.randrange(len(reviews))
        kind = index % 4
        if kind == 0:
            decision = rng.choice(["approve", "reject"])
            return client.post(
                f"{API}/reviews/{reviews[target]['id']}/moderation", json={"decision": decision}
            )
        if kind == 1:  # the author: back to pending
            return client.patch(
                f"{API}/reviews/{reviews[target]['id']}",
                json={"rating": rng.randint(1, 5)},
                headers=authors[target],
            )
        if kind == 2:  # an admin: the status stays
            return client.patch(
                f"{API}/reviews/{reviews[target]['id']}", json={"rating": rng.randint(1, 5)}
            )
        return client.post(
            f"{API}/reviews/{reviews[target]['id']}/moderation", json={"decision": "approve"}
        )

    for _ in range(3):
        responses = await asyncio.gather(*(change(index) for index in range(40)))
        assert {response.status_code for response in responses} == {200}
        async with committed_database.session_factory() as session:
            assert await rating_problems(session) == []
    count, _ = await product_rating(client, product["id"])
    assert count > 0  # the race really counted something
