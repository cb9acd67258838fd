"""The least-privilege Redis ACL users that docs/security.md documents, for the tests.

Keep these lines and the ones in docs/security.md the same: a test reads them from there.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.redis_server import RedisServer, start_redis

DOCS = Path(__file__).resolve().parent.parent / "docs" / "security.md"
#: The default user's password: the admin of the test server (it sets up the other users).
ADMIN_PASSWORD = "admin-Pw-7c1e"


def documented_acl() -> dict[str, str]:
    """``{user name: "ACL SETUSER ..." rule text}`` for every ``ACL SETUSER`` line of docs/security.md."""
    text = DOCS.read_text()
    block = "\n".join(re.findall(r"```\n(ACL SETUSER .*?)```", text, flags=re.S))
    joined = re.sub(r"\\\n\s*", " ", block)
    return {line.split()[2]: line for line in joined.splitlines() if line.startswith("ACL SETUSER")}


def start_acl_redis(passwords: dict[str, str]) -> RedisServer:
    """A redis-server with ``requirepass`` and the documented users, each given its password.

    The documented rule text says ``>PASSWORD``; it is replaced by the user's test password.
    """
    server = start_redis(["--requirepass", ADMIN_PASSWORD])
    admin = admin_client(server)
    try:
        for user, line in documented_acl().items():
            words = line.split()[3:]
            rules = [f">{passwords[user]}" if w == ">PASSWORD" else w for w in words]
            admin.acl_setuser(user, reset=True)
            admin.execute_command("ACL", "SETUSER", user, *rules)
    finally:
        admin.close()
    return server


def admin_client(server: RedisServer):
    import redis

    return redis.Redis(host=server.host, port=server.port, password=ADMIN_PASSWORD, socket_timeout=5,
                       socket_connect_timeout=5)
