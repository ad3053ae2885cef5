"""Command-line flags and environment variables, parsed and validated in one
place.

The original daemon's flags keep their Go spelling (``-zkpath /x``,
``-zkpath=/x``) and its manifest's lower-case environment variables keep
working; every option also has a ``--`` form. Precedence: flag > environment
> default. Nothing reads the environment after this module.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from lib.desired.names import overlaps, path_error
from lib.desired.policy import OPEN, ClaimPolicy, PolicyError, load_policy
from lib.layouts.seed import DEFAULT_CONFIG
from lib.plan.diff import DeletionBudget, parse_budget


class UsageError(Exception):
    """A bad flag or environment value; the message names it."""


@dataclass(frozen=True)
class Config:
    namespace: str
    zk_servers: str
    zk_path: str
    sync_period: float
    mock_registry: bool
    kubeconfig: str | None
    node_config: tuple[str, ...]
    owner_id: str
    owner_root: str
    adopt: bool
    strict: bool
    output: str
    log_format: str
    log_level: str
    zk_timeout: float
    kube_timeout: float
    page_size: int
    loop: bool
    watch_timeout: float
    batch_window: float
    burst_interval: float
    metrics_addr: str
    events: bool
    lock_timeout: float
    dry_run: bool
    max_deletions: DeletionBudget
    force_deletions: bool
    zk_auth_file: str
    zk_acl: str
    zk_tls: bool
    zk_ca_file: str
    zk_cert_file: str
    zk_key_file: str
    claim_policy: ClaimPolicy
    # user:password for ZooKeeper digest auth, from KUBE2ZK_ZK_AUTH or
    # --zk-auth-file; never a flag (process arguments are world-readable).
    zk_auth: str | None = field(default=None, repr=False)


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"([-+]?)((?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+|0)")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``1h0m0s``, ``90s``, ``1h30m``, ``1.5s``)."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"invalid duration {text!r} (Go syntax, e.g. 90s, 1h30m, 1h0m0s)")
    total = sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(match.group(2)))
    return -total if match.group(1) == "-" else total


_TRUE = {"1", "t", "true", "y", "yes", "on"}
_FALSE = {"0", "f", "false", "n", "no", "off"}


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"invalid boolean {text!r} (true or false)")


_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")


def validate_zk_servers(text: str) -> str:
    """``host[:port][,host[:port]...][/chroot]``, as kazoo and the Go client take it."""
    servers, _, chroot = text.strip().partition("/")
    if not servers:
        raise ValueError("empty server list (expected host:port[,host:port...])")
    for entry in servers.split(","):
        entry = entry.strip()
        if not entry:
            raise ValueError(f"empty entry in server list {text!r}")
        host, port = entry, "2181"
        if entry.startswith("["):
            host, closed, tail = entry.partition("]")
            if not closed or not _is_ipv6(host[1:]):
                raise ValueError(f"malformed IPv6 host in {entry!r}")
            host += "]"
            if tail:
                if not tail.startswith(":"):
                    raise ValueError(f"malformed host:port {entry!r}")
                port = tail[1:]
        elif ":" in entry:
            host, _, port = entry.rpartition(":")
        if not _HOST.match(host):
            raise ValueError(f"malformed host in {entry!r}")
        if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
            raise ValueError(f"malformed port in {entry!r} (1-65535)")
    if chroot:
        error = path_error("/" + chroot)
        if error:
            raise ValueError(f"chroot /{chroot}: {error}")
    return text.strip()


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _node_config(text: str) -> tuple[str, ...]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('must be a JSON list of strings, e.g. ["keepalive 32"]')
    for line in value:
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"line {line!r} is not valid Unicode text") from None
    return tuple(value)


def _zk_path(text: str) -> str:
    error = path_error(text)
    if error:
        raise ValueError(error)
    return text


def _owner_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", text):
        raise ValueError("must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit")
    return text


def _choice(*allowed: str) -> Any:
    def check(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text

    return check


def _listen_address(text: str) -> str:
    if text.strip().lower() in ("", "off"):
        return ""
    _host, sep, port = text.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 0 <= int(port) < 65536:
        raise ValueError(f"malformed listen address {text!r} (host:port or :port)")
    return text


def _claim_policy(path: str) -> ClaimPolicy:
    if not path:
        return OPEN
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise ValueError(str(exc)) from None


def _positive_int(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError("must be a positive integer")
    return int(text)


def _duration(text: str) -> float:
    value = parse_duration(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _positive_duration(text: str) -> float:
    value = parse_duration(text)
    if value <= 0:
        raise ValueError("must be a positive duration")
    return value


@dataclass(frozen=True)
class _Option:
    dest: str
    flag: str  # the long name without dashes
    env: str
    default: str
    parse: Any
    help: str
    is_bool: bool = False


OPTIONS: tuple[_Option, ...] = (
    _Option("namespace", "namespace", "namespace", "", str, "which namespace to watch; all namespaces when empty"),
    _Option(
        "zk_servers",
        "zkservers",
        "zkservers",
        "127.0.0.1:2181",
        validate_zk_servers,
        "zookeeper servers address: host:port[,host:port...][/chroot]",
    ),
    _Option("zk_path", "zkpath", "zkpath", "/rpc_v2", _zk_path, "base path of rpc service on zookeeper"),
    _Option(
        "sync_period",
        "syncperiod",
        "syncperiod",
        "1h0m0s",
        _positive_duration,
        "the period to sync registry with k8s (Go duration) in --loop mode",
    ),
    _Option(
        "mock_registry",
        "mockregistry",
        "mockregistry",
        "false",
        parse_bool,
        "print the service map instead of connecting to ZooKeeper",
        is_bool=True,
    ),
    _Option(
        "kubeconfig",
        "kubeconfig",
        "KUBECONFIG",
        "",
        str,
        "kubeconfig file; in-cluster config inside a pod, else ~/.kube/config",
    ),
    _Option(
        "node_config",
        "node-config",
        "KUBE2ZK_NODE_CONFIG",
        json.dumps(list(DEFAULT_CONFIG)),
        _node_config,
        "the node's config lines, as a JSON list of strings",
    ),
    _Option(
        "owner_id",
        "owner-id",
        "KUBE2ZK_OWNER_ID",
        "default",
        _owner_id,
        "ownership id of this installation; give each cluster sharing a ZooKeeper its own",
    ),
    _Option(
        "owner_root",
        "owner-root",
        "KUBE2ZK_OWNER_ROOT",
        "/kube2zk",
        _zk_path,
        "ZooKeeper path of ownership records and locks (outside -zkpath)",
    ),
    _Option(
        "adopt",
        "adopt",
        "KUBE2ZK_ADOPT",
        "false",
        parse_bool,
        "take ownership of existing unowned service nodes (migration from the original daemon)",
        is_bool=True,
    ),
    _Option(
        "strict",
        "strict",
        "KUBE2ZK_STRICT",
        "false",
        parse_bool,
        "exit 1 when any pod annotation is invalid (it is still skipped)",
        is_bool=True,
    ),
    _Option(
        "output",
        "output",
        "KUBE2ZK_OUTPUT",
        "text",
        _choice("text", "json"),
        "format of printed service maps and plans: text or json",
    ),
    _Option(
        "log_format",
        "log-format",
        "KUBE2ZK_LOG_FORMAT",
        "text",
        _choice("text", "json"),
        "log format on stderr: text or json",
    ),
    _Option(
        "log_level", "log-level", "KUBE2ZK_LOG_LEVEL", "info", _choice("debug", "info", "warning", "error"), "log level"
    ),
    _Option(
        "zk_timeout",
        "zk-timeout",
        "KUBE2ZK_ZK_TIMEOUT",
        "15s",
        _positive_duration,
        "how long to try to reach ZooKeeper before giving up (Go duration)",
    ),
    _Option(
        "kube_timeout",
        "kube-timeout",
        "KUBE2ZK_KUBE_TIMEOUT",
        "30s",
        _positive_duration,
        "timeout of each Kubernetes API request (Go duration)",
    ),
    _Option("page_size", "page-size", "KUBE2ZK_PAGE_SIZE", "500", _positive_int, "pods per page when listing"),
    _Option(
        "loop",
        "loop",
        "KUBE2ZK_LOOP",
        "false",
        parse_bool,
        "keep running: follow pod changes with a poll watch and run a full sync every -syncperiod",
        is_bool=True,
    ),
    _Option(
        "watch_timeout",
        "watch-timeout",
        "KUBE2ZK_WATCH_TIMEOUT",
        "5s",
        _positive_duration,
        "server-side timeout of each watch request in --loop mode (Go duration)",
    ),
    _Option(
        "batch_window",
        "batch-window",
        "KUBE2ZK_BATCH_WINDOW",
        "50ms",
        _positive_duration,
        "in --loop mode, pod events this close together are written as one batch (Go duration)",
    ),
    _Option(
        "burst_interval",
        "burst-interval",
        "KUBE2ZK_BURST_INTERVAL",
        "2s",
        _duration,
        "in --loop mode, a service that 5 or more pods change within a second (a rolling update) is written at "
        "most once per this interval (Go duration; 0 writes every batch)",
    ),
    _Option(
        "metrics_addr",
        "metrics-addr",
        "KUBE2ZK_METRICS_ADDR",
        ":8080",
        _listen_address,
        "host:port of /metrics, /healthz and /readyz in --loop mode; empty or 'off' disables",
    ),
    _Option(
        "events",
        "events",
        "KUBE2ZK_EVENTS",
        "true",
        parse_bool,
        "create a Kubernetes Event on each pod whose rpc-service annotation is invalid",
        is_bool=True,
    ),
    _Option(
        "lock_timeout",
        "lock-timeout",
        "KUBE2ZK_LOCK_TIMEOUT",
        "30s",
        _positive_duration,
        "how long a one-shot run waits for the writer lock held by another run (Go duration)",
    ),
    _Option(
        "dry_run",
        "dry-run",
        "KUBE2ZK_DRY_RUN",
        "false",
        parse_bool,
        "read Kubernetes and ZooKeeper, print the plan (see --output), write nothing",
        is_bool=True,
    ),
    _Option(
        "max_deletions",
        "max-deletions",
        "KUBE2ZK_MAX_DELETIONS",
        "5,10%",
        parse_budget,
        "deletion budget per run: a count, a percentage of the owned services, or both (the larger "
        "applies); above it all deletions are held",
    ),
    _Option(
        "force_deletions",
        "force-deletions",
        "KUBE2ZK_FORCE_DELETIONS",
        "false",
        parse_bool,
        "delete even above the deletion budget (after checking the held list)",
        is_bool=True,
    ),
    _Option(
        "zk_auth_file",
        "zk-auth-file",
        "KUBE2ZK_ZK_AUTH_FILE",
        "",
        str,
        "file holding user:password for ZooKeeper digest auth (or set KUBE2ZK_ZK_AUTH itself)",
    ),
    _Option(
        "zk_acl",
        "zk-acl",
        "KUBE2ZK_ZK_ACL",
        "auto",
        _choice("auto", "creator-all+world-read", "creator-all", "open"),
        "ACL of the nodes kube2zk creates; auto: creator-all+world-read when authenticated, else open",
    ),
    _Option(
        "zk_tls",
        "zk-tls",
        "KUBE2ZK_ZK_TLS",
        "false",
        parse_bool,
        "connect to ZooKeeper over TLS (implied by --zk-ca-file)",
        is_bool=True,
    ),
    _Option("zk_ca_file", "zk-ca-file", "KUBE2ZK_ZK_CA_FILE", "", str, "CA bundle (PEM) to verify ZooKeeper"),
    _Option("zk_cert_file", "zk-cert-file", "KUBE2ZK_ZK_CERT_FILE", "", str, "client certificate (PEM) for TLS"),
    _Option("zk_key_file", "zk-key-file", "KUBE2ZK_ZK_KEY_FILE", "", str, "client key (PEM) for TLS"),
    _Option(
        "claim_policy",
        "claim-policy",
        "KUBE2ZK_CLAIM_POLICY",
        "",
        _claim_policy,
        "YAML file saying which namespaces may register which service names; open when empty",
    ),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kube2zk_job.py",
        description="Register RPC services declared on Kubernetes pods (label rpc-service=true, "
        "annotation rpc-service) into ZooKeeper: one full sync, then exit.",
        epilog="Flags take one or two dashes (-zkpath /x, --zkpath=/x). Precedence: flag > environment > default. "
        "Exit codes: 0 ok, 1 some services failed (or invalid annotations with --strict), 2 usage error, "
        "3 Kubernetes unreachable or failed, 4 ZooKeeper unreachable, 5 writer lock held by another run, "
        "6 deletions held by the deletion budget.",
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for opt in OPTIONS:
        names = [f"-{opt.flag}", f"--{opt.flag}"]
        # argparse %-formats help texts: a literal % (as in 5,10%) must be doubled.
        help_text = f"{opt.help} (env {opt.env}; default {opt.default!r})".replace("%", "%%")
        if opt.is_bool:
            parser.add_argument(
                *names, dest=opt.dest, nargs="?", const="true", default=None, metavar="BOOL", help=help_text
            )
        else:
            parser.add_argument(*names, dest=opt.dest, default=None, metavar="VALUE", help=help_text)
    return parser


def load_config(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Config:
    """Parse ``argv`` (without the program name) against ``environ``.

    Raises UsageError naming the flag (or variable) at fault.
    """
    env = os.environ if environ is None else environ
    parser = _parser()
    # argparse matches abbreviations of single-dash long options even with
    # allow_abbrev=False; a typo must not silently turn on, say, -adopt.
    takes_value = {f"{d}{o.flag}" for o in OPTIONS if not o.is_bool for d in ("-", "--")}
    known = takes_value | {f"{d}{o.flag}" for o in OPTIONS for d in ("-", "--")} | {"-h", "--help"}
    args_iter = iter(argv)
    for arg in args_iter:
        name = arg.split("=", 1)[0]
        if arg.startswith("-") and len(arg) > 1 and name not in known:
            raise UsageError(f"unknown flag {name}")
        if name in takes_value and "=" not in arg:
            next(args_iter, None)  # its value, whatever it looks like
    args = parser.parse_args(list(argv))
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        raw = getattr(args, opt.dest)
        source = f"flag -{opt.flag}"
        if raw is None:
            raw = env.get(opt.env)
            source = f"environment variable {opt.env}"
            # The original's manifest sets namespace: "" for all namespaces; an
            # empty value means "unset" for every variable.
            if raw is None or raw == "":
                raw, source = opt.default, f"default of -{opt.flag}"
        try:
            values[opt.dest] = opt.parse(raw)
        except ValueError as exc:
            raise UsageError(f"{source}: {exc}") from None
    if overlaps(values["zk_path"], values["owner_root"]):
        raise UsageError(
            f"flag -owner-root: {values['owner_root']} must not overlap -zkpath {values['zk_path']} "
            "(ownership records live outside the service path)"
        )
    values["kubeconfig"] = values["kubeconfig"] or None
    values["zk_auth"] = _zk_auth(values["zk_auth_file"], env.get("KUBE2ZK_ZK_AUTH") or None)
    if bool(values["zk_cert_file"]) != bool(values["zk_key_file"]):
        raise UsageError("flags -zk-cert-file and -zk-key-file go together")
    for name in ("zk_ca_file", "zk_cert_file", "zk_key_file"):
        if values[name] and not os.path.isfile(values[name]):
            raise UsageError(f"flag -{name.replace('_', '-')}: no such file {values[name]!r}")
    if values["zk_ca_file"] or values["zk_cert_file"]:
        values["zk_tls"] = True
    if values["zk_acl"] in ("creator-all", "creator-all+world-read") and values["zk_auth"] is None:
        raise UsageError(
            f"flag -zk-acl: {values['zk_acl']} needs a ZooKeeper credential (KUBE2ZK_ZK_AUTH or -zk-auth-file)"
        )
    return Config(**values)


def _zk_auth(path: str, from_env: str | None) -> str | None:
    """The digest credential; the message on error never contains it."""
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                secret = fh.read().strip()
        except OSError as exc:
            raise UsageError(f"flag -zk-auth-file: cannot read {path!r}: {exc.strerror}") from None
        source = "flag -zk-auth-file"
    elif from_env:
        secret, source = from_env.strip(), "environment variable KUBE2ZK_ZK_AUTH"
    else:
        return None
    user, sep, password = secret.partition(":")
    if not sep or not user or not password:
        raise UsageError(f"{source}: the credential must have the form user:password")
    return secret


def usage_error_exit(message: str) -> NoReturn:
    print(f"kube2zk: error: {message} (see --help)", file=sys.stderr)
    raise SystemExit(2)
