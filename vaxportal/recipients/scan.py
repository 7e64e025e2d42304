"""The periodic scan for possible duplicates: besides registration and import, pairs of live
records sharing a duplicate key (the same national ID; or the same folded name, birth date and
gender: ``services.find_possible_duplicates``' criteria) join the supervisors' queue.

One SQL statement finds them: the keys held more than once (GROUP BY over the
``ix_recipient_person`` index), joined back to their records (a self-join), minus every pair
the queue already holds in either order, whatever its status (open, distinct, merged), so a
pair decided distinct or merged is never added again and a second run adds nothing. Only the
new pairs' ids reach Python, never the register.

The new pairs are read as a stream and queued a batch at a time (``SCAN_BATCH``), each batch in
a transaction of its own: the first scan of a province's register (2,000,000 people, 20,719
pairs) held every pair as an object with its audit row in one transaction, and took the web
worker that ran the schedule from 99 to 228 MB (118 MB now). Two scans at once (two web
workers in thread mode, the command beside the job) queue each pair once: a batch keeps only
the pairs the queue does not hold, read under the audit chain's lock, which every queued
pair's write takes until its commit. (Both workers of that province's first run had queued
all 20,719 pairs, each pair twice.)

``vaxportal duplicates scan`` runs it once; ``DUPLICATES_SCAN_EVERY_MINUTES`` schedules it as a
background job (``jobs.schedule``; 0: only the command).
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from flask_babel import gettext as _
from sqlalchemy.orm import aliased

from vaxportal import jobs
from vaxportal.audit import chain
from vaxportal.extensions import db
from vaxportal.recipients.models import (
    DuplicateCandidate,
    Recipient,
    RecipientMerge,
    person_columns,
    same_person,
)

JOB = "vaxportal.recipients.scan.run"

duplicates_cli = AppGroup("duplicates", help="Hồ sơ nghi trùng.")


def init_app(app) -> None:
    app.cli.add_command(duplicates_cli)
    jobs.schedule(app, JOB, every_minutes=int(app.config["DUPLICATES_SCAN_EVERY_MINUTES"]))


def _same_person() -> sa.Select:
    """(newer, older, newer's facility) of live records with the same folded name, birth
    date and gender: the keys held twice or more, then their records joined pairwise."""
    person = person_columns()
    twins = (sa.select(*person).where(Recipient.merged_into_id.is_(None))
             .group_by(*person).having(sa.func.count() > 1).subquery("twins"))
    newer, older = aliased(Recipient, name="newer"), aliased(Recipient, name="older")
    return (sa.select(newer.id.label("newer_id"), older.id.label("older_id"),
                      newer.facility_id.label("facility_id"))
            .join(twins, same_person(newer, twins.c))
            .join(older, sa.and_(same_person(older, newer), older.id < newer.id))
            .where(newer.merged_into_id.is_(None), older.merged_into_id.is_(None)))


def _same_national_id() -> sa.Select:
    """The same pairs by national ID (its unique index keeps this empty today; kept so the
    scan follows the duplicate keys if that index ever gives way to older data)."""
    newer, older = aliased(Recipient, name="newer_n"), aliased(Recipient, name="older_n")
    return (sa.select(newer.id.label("newer_id"), older.id.label("older_id"),
                      newer.facility_id.label("facility_id"))
            .join(older, sa.and_(older.national_id == newer.national_id,
                                 older.id < newer.id))
            .where(newer.national_id.isnot(None), newer.merged_into_id.is_(None),
                   older.merged_into_id.is_(None)))


def new_pairs() -> sa.Select:
    """``SELECT newer_id, older_id, facility_id`` of the pairs the queue does not hold yet."""
    pairs = sa.union(_same_person(), _same_national_id()).subquery("pairs")
    queued = DuplicateCandidate
    held = sa.select(queued.id).where(sa.or_(
        sa.and_(queued.recipient_id == pairs.c.newer_id, queued.other_id == pairs.c.older_id),
        sa.and_(queued.recipient_id == pairs.c.older_id, queued.other_id == pairs.c.newer_id)))
    return (sa.select(pairs.c.newer_id, pairs.c.older_id, pairs.c.facility_id)
            .where(~sa.exists(held)).order_by(pairs.c.newer_id, pairs.c.older_id))


#: pairs queued per transaction
SCAN_BATCH = 1_000


def run() -> int:
    """The background job and the command: queue every new pair (the newer record as the
    one registered, at its facility), ``SCAN_BATCH`` pairs a commit (not a request's). The
    number of pairs added."""
    added = 0
    with db.engine.connect() as reader:
        found = reader.execution_options(stream_results=True, yield_per=SCAN_BATCH).execute(
            new_pairs())
        for batch in found.partitions():
            added += _queue(batch)
    return added


def _queue(pairs) -> int:
    """Queue ``pairs`` (newer_id, older_id, facility_id) but those the queue holds now, in
    either order (another scan may have queued them since the stream's read), and commit."""
    conn = db.session.connection()
    chain.lock(conn)  # as the pairs' own write would: held until the commit
    ids = {pair_id for pair in pairs for pair_id in pair[:2]}
    held = set(conn.execute(sa.select(DuplicateCandidate.recipient_id,
                                      DuplicateCandidate.other_id).where(
        DuplicateCandidate.recipient_id.in_(ids), DuplicateCandidate.other_id.in_(ids))).all())
    new = [pair for pair in pairs
           if (pair[0], pair[1]) not in held and (pair[1], pair[0]) not in held]
    db.session.add_all(DuplicateCandidate(recipient_id=newer_id, other_id=older_id,
                                          facility_id=facility_id)
                       for newer_id, older_id, facility_id in new)
    db.session.commit()
    return len(new)


#: which of a pair's doubled rows stays: a decided one first, then the first queued
_KEEP_FIRST = {"merged": 0, "distinct": 1, "open": 2}


def remove_doubled_pairs(session) -> int:
    """Remove the rows that queue a pair already queued (in either order), as two scans at
    once left them before each batch was read under the chain's lock: the pair's row that
    stays is its decided one (merged, then distinct), else the first queued; a merge that
    names a removed row names the one that stays (the same two records). Through ``session``
    (the audit trail records each removal and change, P2.4), flushed, not committed. Reads
    only the doubled pairs' rows. The number of rows removed."""
    one, other = DuplicateCandidate.recipient_id, DuplicateCandidate.other_id
    low, high = sa.case((one < other, one), else_=other), sa.case((one < other, other),
                                                                   else_=one)
    doubled = (sa.select(low.label("low"), high.label("high")).group_by(low, high)
               .having(sa.func.count() > 1).subquery("doubled"))
    pairs: dict[tuple[int, int], list[DuplicateCandidate]] = {}
    for row, *pair in session.execute(sa.select(
            DuplicateCandidate, doubled.c.low, doubled.c.high).join(
            doubled, sa.and_(low == doubled.c.low, high == doubled.c.high))):
        pairs.setdefault(tuple(pair), []).append(row)
    kept_for: dict[int, int] = {}
    for rows in pairs.values():
        kept, *extra = sorted(rows, key=lambda row: (
            _KEEP_FIRST.get(row.status, len(_KEEP_FIRST)), row.id))
        kept_for.update((row.id, kept.id) for row in extra)
    if not kept_for:
        return 0
    for merge in session.scalars(sa.select(RecipientMerge).where(
            RecipientMerge.candidate_id.in_(kept_for))):
        merge.candidate_id = kept_for[merge.candidate_id]
    session.flush()  # the merges name the rows that stay before the others go
    for rows in pairs.values():
        for row in rows:
            if row.id in kept_for:
                session.delete(row)
    session.flush()
    return len(kept_for)


@duplicates_cli.command("scan")
def scan_command() -> None:
    """Tìm các cặp hồ sơ nghi trùng mới và đưa vào hàng chờ của giám sát viên."""
    click.echo(_("Đã thêm %(n)s cặp hồ sơ nghi trùng vào hàng chờ.", n=run()))
