"""A deterministic MediaWiki-like wiki: schema, generated rows, and loading them.

``generate(seed, users, revisions)`` returns a ``World``: plain Python rows
for ``user``, ``actor``, ``page``, ``revision``, ``archive`` and ``logging``,
shaped like the wiki replicas (``YYYYMMDDHHMMSS`` timestamps, base-36 SHA-1s,
block parameters PHP-serialised). ``load(connection, world)`` creates the
tables in the connection's database and inserts the rows. The same ``World``
feeds the plain-Python metrics of ``cohort_reference``, so both sides see
the same rows.

The data has what the metrics must get right: page creations, identity
reverts (near and beyond 15 revisions), blankings, null edits, NULL
``rev_parent_id`` and NULL ``rev_len`` (old rows), parents that were deleted,
deleted pages and deleted revisions in ``archive``, blocks and reblocks (one
modern and one legacy infinite), unblocks and other log entries that are not
blocks, users with no registration date, users with no actor, anonymous
actors, several namespaces, and user names with quotes, backslashes, ``%``
and SQL in them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass, field

TS = "%Y%m%d%H%M%S"
EMPTY_SHA1 = "phoiac9h4m842xq45sp7s6u21eteeq1"  # base-36 SHA-1 of ""
BASE = dt.datetime(2026, 10, 1)
NAMESPACES = (0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 10, 14, 118)
TRICKY_NAMES = (
    "Robert'); DROP TABLE user;--",
    'Quote"Name',
    "Back\\Slash",
    "Percent %s %(x)s",
    "Émilie Dupont",
    "名前 テスト",
    "O'Brien",
    "1 OR 1=1",
)

# The indexes of the wiki replicas' tables (MediaWiki's tables.json) that the
# metrics can use: rev_actor_timestamp to start from a few users,
# page_name_title and the covering rev_page_actor_timestamp to start from a
# namespace's pages, rev_page_timestamp for page histories.
SCHEMA = (
    """CREATE TABLE user (
        user_id INT UNSIGNED NOT NULL PRIMARY KEY,
        user_name VARBINARY(255) NOT NULL,
        user_registration VARBINARY(14) NULL,
        user_editcount INT NULL,
        UNIQUE KEY user_name (user_name))""",
    """CREATE TABLE actor (
        actor_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
        actor_user INT UNSIGNED NULL,
        actor_name VARBINARY(255) NOT NULL,
        UNIQUE KEY actor_user (actor_user),
        UNIQUE KEY actor_name (actor_name))""",
    """CREATE TABLE page (
        page_id INT UNSIGNED NOT NULL PRIMARY KEY,
        page_namespace INT NOT NULL,
        page_title VARBINARY(255) NOT NULL,
        page_latest INT UNSIGNED NOT NULL,
        page_len INT UNSIGNED NOT NULL,
        UNIQUE KEY page_name_title (page_namespace, page_title))""",
    """CREATE TABLE revision (
        rev_id INT UNSIGNED NOT NULL PRIMARY KEY,
        rev_page INT UNSIGNED NOT NULL,
        rev_actor BIGINT UNSIGNED NOT NULL,
        rev_timestamp BINARY(14) NOT NULL,
        rev_minor_edit TINYINT UNSIGNED NOT NULL DEFAULT 0,
        rev_deleted TINYINT UNSIGNED NOT NULL DEFAULT 0,
        rev_len INT UNSIGNED NULL,
        rev_parent_id INT UNSIGNED NULL,
        rev_sha1 VARBINARY(32) NOT NULL DEFAULT '',
        KEY rev_timestamp (rev_timestamp),
        KEY rev_page_timestamp (rev_page, rev_timestamp),
        KEY rev_actor_timestamp (rev_actor, rev_timestamp, rev_id),
        KEY rev_page_actor_timestamp (rev_page, rev_actor, rev_timestamp))""",
    """CREATE TABLE archive (
        ar_id INT UNSIGNED NOT NULL PRIMARY KEY AUTO_INCREMENT,
        ar_namespace INT NOT NULL,
        ar_title VARBINARY(255) NOT NULL,
        ar_actor BIGINT UNSIGNED NOT NULL,
        ar_timestamp BINARY(14) NOT NULL,
        ar_minor_edit TINYINT NOT NULL DEFAULT 0,
        ar_rev_id INT UNSIGNED NOT NULL,
        ar_deleted TINYINT UNSIGNED NOT NULL DEFAULT 0,
        ar_len INT UNSIGNED NULL,
        ar_page_id INT UNSIGNED NULL,
        ar_parent_id INT UNSIGNED NULL,
        ar_sha1 VARBINARY(32) NOT NULL DEFAULT '',
        KEY ar_name_title_timestamp (ar_namespace, ar_title, ar_timestamp),
        KEY ar_actor_timestamp (ar_actor, ar_timestamp),
        UNIQUE KEY ar_revid_uniq (ar_rev_id))""",
    """CREATE TABLE logging (
        log_id INT UNSIGNED NOT NULL PRIMARY KEY,
        log_type VARBINARY(32) NOT NULL,
        log_action VARBINARY(32) NOT NULL,
        log_timestamp BINARY(14) NOT NULL,
        log_actor BIGINT UNSIGNED NOT NULL,
        log_namespace INT NOT NULL,
        log_title VARBINARY(255) NOT NULL,
        log_page INT UNSIGNED NULL,
        log_params BLOB NOT NULL,
        KEY log_type_time (log_type, log_timestamp),
        KEY log_page_time (log_namespace, log_title, log_timestamp),
        KEY log_actor_time (log_actor, log_timestamp),
        KEY log_times (log_timestamp),
        KEY log_actor_type_time (log_actor, log_type, log_timestamp),
        KEY log_page_id_time (log_page, log_timestamp),
        KEY log_type_action (log_type, log_action, log_timestamp))""",
)
TABLES = ("user", "actor", "page", "revision", "archive", "logging")


@dataclass(frozen=True)
class User:
    user_id: int
    user_name: str
    registration: str | None


@dataclass(frozen=True)
class Actor:
    actor_id: int
    user_id: int | None
    name: str


@dataclass(frozen=True)
class Page:
    page_id: int
    namespace: int
    title: str


@dataclass(frozen=True)
class Revision:
    rev_id: int
    page_id: int
    actor_id: int
    timestamp: str
    parent_id: int | None
    length: int | None
    sha1: str
    deleted: bool = False  # in archive, not in revision


@dataclass(frozen=True)
class LogEntry:
    log_id: int
    type: str
    action: str
    timestamp: str
    actor_id: int
    namespace: int
    title: str
    params: str


@dataclass
class World:
    users: list[User] = field(default_factory=list)
    actors: list[Actor] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)  # live and deleted
    logging: list[LogEntry] = field(default_factory=list)
    deleted_pages: set[int] = field(default_factory=set)  # page rows gone

    def user(self, user_id: int) -> User:
        return next(u for u in self.users if u.user_id == user_id)

    def by_name(self, name: str) -> User:
        return next(u for u in self.users if u.user_name == name)


def ts(moment: dt.datetime) -> str:
    return moment.strftime(TS)


def php_block_params(duration: str, flags: str = "nocreate") -> str:
    """Block parameters as MediaWiki serialises them (PHP ``serialize``)."""
    def s(text: str) -> str:
        return f's:{len(text.encode())}:"{text}";'
    return "a:2:{" + s("5::duration") + s(duration) + s("6::flags") + s(flags) + "}"


def _sha1(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(31))


def generate(seed: int = 14, users: int = 520, revisions: int = 20_000,
             pages_per_revision: float = 0.08) -> World:
    """A world with ``users`` registered users and about ``revisions`` revisions."""
    rng = random.Random(seed)
    world = World()

    # Users: ids with gaps, 5% with no registration date, a few tricky names.
    for i in range(users):
        user_id = 10 + 2 * i
        name = TRICKY_NAMES[i] if i < len(TRICKY_NAMES) else f"Editor {i}"
        if i % 20 == 7:
            registration = None
        else:
            registration = ts(BASE + dt.timedelta(seconds=rng.randrange(30 * 86400)))
        world.users.append(User(user_id, name, registration))
    # Actors: numbered apart from users; 3% of users never got one.
    weights = {}
    for i, user in enumerate(world.users):
        if i % 33 == 5:
            continue
        actor = Actor(100_000 + user.user_id, user.user_id, user.user_name)
        world.actors.append(actor)
        weights[actor.actor_id] = rng.paretovariate(1.3)
    anons = [Actor(900_000 + i, None, f"192.0.2.{i}") for i in range(30)]
    world.actors.extend(anons)
    for actor in anons:
        weights[actor.actor_id] = 1.0
    registered = {u.user_id: u.registration for u in world.users}
    registration_of = {a.actor_id: registered[a.user_id]
                       for a in world.actors if a.user_id is not None}

    # When each revision is made: mostly soon after registration, so that
    # windows of hours cut through the data.
    actor_ids = list(weights)
    cumulative = list(itertools.accumulate(weights[a] for a in actor_ids))
    events = []
    for _ in range(revisions):
        actor_id = rng.choices(actor_ids, cum_weights=cumulative)[0]
        registration = registration_of.get(actor_id)
        if registration is None:
            moment = BASE - dt.timedelta(days=10) + dt.timedelta(
                seconds=rng.randrange(70 * 86400))
        else:
            start = dt.datetime.strptime(registration, TS)
            roll = rng.random()
            if roll < 0.35:
                offset = rng.randrange(3600)
            elif roll < 0.65:
                offset = rng.randrange(3600, 30 * 3600)
            elif roll < 0.98:
                offset = rng.randrange(30 * 3600, 60 * 86400)
            else:
                offset = -rng.randrange(1, 86400)  # imported edits before registration
            moment = start + dt.timedelta(seconds=offset)
        events.append((ts(moment), actor_id))
    events.sort()

    # Page histories, walked in time order.
    histories: dict[int, list[Revision]] = {}
    page_ids: list[int] = []
    next_page = 1
    for number, (timestamp, actor_id) in enumerate(events):
        rev_id = 1_000 + number
        if not page_ids or rng.random() < pages_per_revision:
            page = Page(next_page, rng.choice(NAMESPACES), f"Page_{next_page}")
            next_page += 1
            world.pages.append(page)
            page_ids.append(page.page_id)
            revision = Revision(rev_id, page.page_id, actor_id, timestamp, 0,
                                rng.randrange(0, 4000), _sha1(rng))
            histories[page.page_id] = [revision]
            continue
        # Busy pages get busier, so histories are long enough for k.
        page_id = page_ids[min(int(rng.paretovariate(0.9)) - 1, len(page_ids) - 1)
                           ] if rng.random() < 0.5 else rng.choice(page_ids)
        history = histories[page_id]
        previous = history[-1]
        roll = rng.random()
        if roll < 0.10 and len(history) >= 2:  # identity revert, usually near
            back = rng.randrange(1, min(len(history), 6))
            if rng.random() < 0.15:
                back = rng.randrange(1, min(len(history), 25))
            target = history[-1 - back]
            length, sha1 = target.length, target.sha1
        elif roll < 0.13:  # blanking
            length, sha1 = 0, EMPTY_SHA1
        elif roll < 0.15:  # null edit
            length, sha1 = previous.length, previous.sha1
        else:
            length = max(0, (previous.length or 0) + rng.randrange(-300, 700))
            sha1 = _sha1(rng)
        parent: int | None = previous.rev_id
        if rng.random() < 0.01:
            parent = None  # old rows have no parent recorded
        if rng.random() < 0.005:
            length = None  # nor a length
        revision = Revision(rev_id, page_id, actor_id, timestamp, parent, length, sha1)
        history.append(revision)

    # Deletions: whole pages (page row gone) and the oldest revisions of others,
    # so that some live revisions have a deleted parent.
    deleted_revs: set[int] = set()
    for page_id in page_ids:
        roll = rng.random()
        history = histories[page_id]
        if roll < 0.04:
            world.deleted_pages.add(page_id)
            deleted_revs.update(r.rev_id for r in history)
        elif roll < 0.07 and len(history) > 2:
            deleted_revs.update(r.rev_id for r in history[:rng.randrange(1, len(history))])
    for page_id in page_ids:
        for revision in histories[page_id]:
            world.revisions.append(Revision(
                revision.rev_id, revision.page_id, revision.actor_id, revision.timestamp,
                revision.parent_id, revision.length, revision.sha1,
                deleted=revision.rev_id in deleted_revs))
    world.revisions.sort(key=lambda r: r.rev_id)

    _logging(world, rng)
    return world


def _logging(world: World, rng: random.Random) -> None:
    """Blocks, reblocks and unblocks, and entries that are not blocks."""
    admin = world.actors[0].actor_id
    log_id = 1
    registered = [u for u in world.users if u.registration]

    def add(type_: str, action: str, moment: str, namespace: int, title: str,
            params: str) -> None:
        nonlocal log_id
        world.logging.append(LogEntry(log_id, type_, action, moment, admin, namespace,
                                      title, params))
        log_id += 1

    durations = ("31 hours", "1 week", "2 weeks", "20261231000000")
    targets = rng.sample(registered, min(60, len(registered)))
    for number, user in enumerate(targets):
        start = dt.datetime.strptime(user.registration, TS)
        title = user.user_name.replace(" ", "_")
        for _ in range(1 + (number % 3 == 0)):
            moment = ts(start + dt.timedelta(seconds=rng.randrange(-3600, 4 * 86400)))
            action = rng.choice(("block", "block", "reblock", "unblock"))
            duration = rng.choice(durations)
            if number == 0:
                action, duration = "block", "infinite"
            params = php_block_params(duration) if action != "unblock" else "a:0:{}"
            if number == 1:
                action, params = "block", "indefinite\nnocreate,noautoblock"  # legacy
            add("block", action, moment, 2, title, params)
        # Not a block of this user: same title, another namespace or log type.
        moment = ts(start + dt.timedelta(seconds=rng.randrange(0, 86400)))
        add("block", "block", moment, 0, title, php_block_params("infinite"))
        add("protect", "protect", moment, 2, title, "a:0:{}")
    for user in world.users:
        if user.registration:
            add("newusers", "create", user.registration, 2,
                user.user_name.replace(" ", "_"), "a:0:{}")
    for number in range(5):  # anonymous users get blocked too
        add("block", "block", ts(BASE + dt.timedelta(days=number)), 2, f"192.0.2.{number}",
            php_block_params("31 hours"))


def create_schema(connection) -> None:
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in SCHEMA:
            cursor.execute(statement)


def load(connection, world: World, batch: int = 20_000) -> None:
    """Create the tables in the connection's database and insert ``world``."""
    create_schema(connection)
    live = [r for r in world.revisions if not r.deleted]
    latest: dict[int, Revision] = {}
    for revision in live:
        latest[revision.page_id] = revision
    pages = {p.page_id: p for p in world.pages}
    edits: dict[int, int] = {}
    for revision in world.revisions:
        edits[revision.actor_id] = edits.get(revision.actor_id, 0) + 1
    user_actor = {a.user_id: a.actor_id for a in world.actors if a.user_id is not None}

    def insert(sql: str, rows: list[tuple]) -> None:
        with connection.cursor() as cursor:
            for i in range(0, len(rows), batch):
                cursor.executemany(sql, rows[i:i + batch])

    insert("INSERT INTO user (user_id, user_name, user_registration, user_editcount) "
           "VALUES (%s, %s, %s, %s)",
           [(u.user_id, u.user_name.encode(), u.registration,
             edits.get(user_actor.get(u.user_id), 0)) for u in world.users])
    insert("INSERT INTO actor (actor_id, actor_user, actor_name) VALUES (%s, %s, %s)",
           [(a.actor_id, a.user_id, a.name.encode()) for a in world.actors])
    insert("INSERT INTO page (page_id, page_namespace, page_title, page_latest, page_len) "
           "VALUES (%s, %s, %s, %s, %s)",
           [(p.page_id, p.namespace, p.title, latest[p.page_id].rev_id,
             latest[p.page_id].length or 0)
            for p in world.pages if p.page_id not in world.deleted_pages
            and p.page_id in latest])
    insert("INSERT INTO revision (rev_id, rev_page, rev_actor, rev_timestamp, rev_len, "
           "rev_parent_id, rev_sha1) VALUES (%s, %s, %s, %s, %s, %s, %s)",
           [(r.rev_id, r.page_id, r.actor_id, r.timestamp, r.length, r.parent_id, r.sha1)
            for r in live])
    insert("INSERT INTO archive (ar_namespace, ar_title, ar_actor, ar_timestamp, ar_rev_id, "
           "ar_len, ar_page_id, ar_parent_id, ar_sha1) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
           [(pages[r.page_id].namespace, pages[r.page_id].title, r.actor_id, r.timestamp,
             r.rev_id, r.length, r.page_id, r.parent_id, r.sha1)
            for r in world.revisions if r.deleted])
    insert("INSERT INTO logging (log_id, log_type, log_action, log_timestamp, log_actor, "
           "log_namespace, log_title, log_params) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
           [(e.log_id, e.type, e.action, e.timestamp, e.actor_id, e.namespace,
             e.title.encode(), e.params.encode()) for e in world.logging])
