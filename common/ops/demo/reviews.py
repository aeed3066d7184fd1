"""The demo store's reviews: by customers of what was delivered to them, moderated or not yet."""

from __future__ import annotations

from datetime import timedelta

from common.models.review import Review, ReviewStatus
from common.ops.demo.state import DemoStore
from common.ops.demo.writer import table_of

REVIEW_SHARE = 0.45
RATINGS = (5, 4, 3, 2, 1)
RATING_WEIGHTS = (46, 28, 11, 6, 9)
REVIEW_STATUSES = (ReviewStatus.APPROVED, ReviewStatus.PENDING, ReviewStatus.REJECTED)
REVIEW_STATUS_WEIGHTS = (75, 15, 10)
REVIEW_TEXTS = {
    5: ("Love it", "Exactly as described and arrived quickly. Would buy again."),
    4: ("Very good", "Does the job well; one or two small things could be better."),
    3: ("It's okay", "Fine for the price, nothing special."),
    2: ("Disappointing", "Quality is lower than the pictures suggest."),
    1: ("Not for me", "Stopped working after a week and support was slow."),
}


async def seed_reviews(store: DemoStore) -> None:
    """Some customers review what was delivered to them (one review per product each);
    most reviews are approved by now, some wait for moderation, a few were rejected."""
    store.stage("reviews")
    rng = store.rng
    reviewed: set[tuple[int, int]] = set()
    for delivered in store.delivered:
        key = (delivered.customer_id, delivered.product_id)
        if key in reviewed or rng.random() >= REVIEW_SHARE:
            continue
        written = delivered.at + timedelta(hours=rng.uniform(2, 240))
        if written > store.history_end:
            continue
        reviewed.add(key)
        rating = rng.choices(RATINGS, weights=RATING_WEIGHTS)[0]
        status = rng.choices(REVIEW_STATUSES, weights=REVIEW_STATUS_WEIGHTS)[0]
        moderated = written + timedelta(hours=rng.uniform(1, 48))
        if moderated > store.history_end:
            status = ReviewStatus.PENDING
        title, body = REVIEW_TEXTS[rating]
        await store.writer.add(
            table_of(Review),
            {
                "product_id": delivered.product_id,
                "user_id": delivered.customer_id,
                "rating": rating,
                "title": title,
                "body": body,
                "status": status.value,
                "moderated_by": None,
                "moderated_at": None if status is ReviewStatus.PENDING else moderated,
                "moderation_note": ("off-topic" if status is ReviewStatus.REJECTED else None),
                "created_at": written,
                "updated_at": written if status is ReviewStatus.PENDING else moderated,
            },
        )
        store.summary.reviews[status.value] += 1
    store.progress.update()
