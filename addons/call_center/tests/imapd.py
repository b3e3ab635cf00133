"""A minimal IMAP4rev1 server on a local socket for the mailbox tests: the commands
``imaplib`` sends for the mailbox job (CAPABILITY, LOGIN, SELECT, SEARCH / UID SEARCH,
FETCH / UID FETCH, STORE / UID STORE, NOOP, LOGOUT), over one folder of messages kept in
memory with their ``\\Seen`` flag. Faults can be switched on: a refused login, a STORE
that fails, a server that never greets (a time-out). Nothing is installed: the standard
library's ``socketserver`` serves it."""
from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\([^)]*\))|(\S+)')


def _args(text: str) -> list[str]:
    out = []
    for quoted, paren, bare in _TOKEN.findall(text):
        if paren:
            out.append(paren)
        elif bare:
            out.append(bare)
        else:
            out.append(re.sub(r"\\(.)", r"\1", quoted))
    return out


@dataclass
class Message:
    uid: int
    raw: bytes
    seen: bool = False


@dataclass
class Mailbox:
    username: str = "desk@example.com"
    password: str = "s3cret-imap"
    folder: str = "INBOX"
    messages: list[Message] = field(default_factory=list)
    refuse_store: bool = False
    silent: bool = False  # accept the connection but never greet (a time-out)
    commands: list[str] = field(default_factory=list)
    _next_uid: int = 1

    def add(self, raw: bytes | str) -> Message:
        if isinstance(raw, str):
            raw = raw.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
        m = Message(self._next_uid, raw)
        self._next_uid += 1
        self.messages.append(m)
        return m


class _Handler(socketserver.StreamRequestHandler):
    timeout = 10

    def send(self, line: str | bytes) -> None:
        self.wfile.write(line if isinstance(line, bytes) else line.encode("utf-8"))

    def handle(self):  # noqa: C901 - one branch per command, as the protocol reads
        box: Mailbox = self.server.mailbox
        if box.silent:
            self.rfile.readline()  # until the client gives up
            return
        self.send("* OK IMAP4rev1 test server ready\r\n")
        logged_in = selected = False
        while True:
            line = self.rfile.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            tag, _, rest = text.partition(" ")
            cmd, _, args = rest.partition(" ")
            cmd = cmd.upper()
            uid_mode = cmd == "UID"
            if uid_mode:
                cmd, _, args = args.partition(" ")
                cmd = cmd.upper()
            box.commands.append(("UID " if uid_mode else "") + cmd)
            if cmd == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + f"{tag} OK CAPABILITY completed\r\n")
            elif cmd == "NOOP":
                self.send(f"{tag} OK NOOP completed\r\n")
            elif cmd == "LOGOUT":
                self.send("* BYE logging out\r\n" + f"{tag} OK LOGOUT completed\r\n")
                return
            elif cmd == "LOGIN":
                user, password = (_args(args) + ["", ""])[:2]
                if (user, password) != (box.username, box.password):
                    self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
                else:
                    logged_in = True
                    self.send(f"{tag} OK LOGIN completed\r\n")
            elif not logged_in:
                self.send(f"{tag} BAD not logged in\r\n")
            elif cmd in ("SELECT", "EXAMINE"):
                name = (_args(args) or [""])[0]
                if name != box.folder:
                    self.send(f"{tag} NO no such mailbox\r\n")
                    continue
                selected = True
                self.send(f"* {len(box.messages)} EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen)\r\n"
                          f"{tag} OK [READ-WRITE] SELECT completed\r\n")
            elif not selected:
                self.send(f"{tag} BAD no mailbox selected\r\n")
            elif cmd == "SEARCH":
                crit = args.upper().split()
                found = [(m.uid if uid_mode else i + 1) for i, m in enumerate(box.messages)
                         if ("UNSEEN" not in crit or not m.seen)]
                self.send("* SEARCH" + "".join(f" {n}" for n in found) + f"\r\n{tag} OK SEARCH completed\r\n")
            elif cmd in ("FETCH", "STORE"):
                ref, _, what = args.partition(" ")
                hit = [(i, m) for i, m in enumerate(box.messages) if (m.uid if uid_mode else i + 1) == int(ref)]
                if not hit:
                    self.send(f"{tag} OK {cmd} completed\r\n")
                    continue
                i, m = hit[0]
                if cmd == "FETCH":
                    if "PEEK" not in what.upper():
                        m.seen = True
                    self.send(f"* {i + 1} FETCH (UID {m.uid} BODY[] {{{len(m.raw)}}}\r\n".encode() + m.raw + b")\r\n")
                    self.send(f"{tag} OK FETCH completed\r\n")
                else:
                    if box.refuse_store:
                        self.send(f"{tag} NO STORE refused\r\n")
                        continue
                    if "\\SEEN" in what.upper():
                        m.seen = not what.lstrip().startswith("-")
                    flags = "(\\Seen)" if m.seen else "()"
                    self.send(f"* {i + 1} FETCH (UID {m.uid} FLAGS {flags})\r\n{tag} OK STORE completed\r\n")
            else:
                self.send(f"{tag} BAD unknown command {cmd}\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class IMAPServer:
    """``with IMAPServer() as srv:`` serves ``srv.mailbox`` on ``127.0.0.1:srv.port``."""

    def __init__(self, mailbox: Mailbox | None = None):
        self.mailbox = mailbox or Mailbox()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.mailbox = self.mailbox
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
