"""The options that choose the registry layouts and where each writes."""

from __future__ import annotations

from lib.settings import values as v
from lib.settings.groups import SPRING_PAYLOAD, SyncSettings
from lib.settings.spec import Option

LAYOUT_NAMES = ("seed", "curator", "dubbo")


def parse_layouts(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise ValueError(f"name at least one layout ({', '.join(LAYOUT_NAMES)})")
    unknown = [n for n in names if n not in LAYOUT_NAMES]
    if unknown:
        raise ValueError(f"unknown layout {unknown[0]!r} (one or more of {', '.join(LAYOUT_NAMES)}, comma-separated)")
    if len(set(names)) != len(names):
        raise ValueError("a layout is named twice")
    return names


def parse_payload_class(text: str) -> str:
    """A Java class name, or empty/``none`` for no payload."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return ""
    if not all(part.isidentifier() for part in text.split(".")):
        raise ValueError(f"{text!r} is not a Java class name (or 'none')")
    return text


LAYOUT_OPTIONS: tuple[Option, ...] = (
    Option(
        SyncSettings,
        "layouts",
        "layouts",
        "KUBE2ZK_LAYOUTS",
        "seed",
        parse_layouts,
        "registry layouts to write, comma-separated: seed (the original's node per service under -zkpath), "
        "curator (Curator x-discovery / Spring Cloud Zookeeper instances under -curator-path), "
        "dubbo (Dubbo interface-level providers under -dubbo-root)",
    ),
    Option(
        SyncSettings,
        "curator_path",
        "curator-path",
        "KUBE2ZK_CURATOR_PATH",
        "/services",
        v.zk_path,
        "base path of the curator layout (Spring Cloud Zookeeper's discovery root)",
    ),
    Option(
        SyncSettings,
        "curator_payload",
        "curator-payload-class",
        "KUBE2ZK_CURATOR_PAYLOAD_CLASS",
        SPRING_PAYLOAD,
        parse_payload_class,
        "the curator layout's payload class (Spring Cloud Zookeeper's by default; 'none' writes no payload)",
    ),
    Option(
        SyncSettings,
        "dubbo_root",
        "dubbo-root",
        "KUBE2ZK_DUBBO_ROOT",
        "/dubbo",
        v.zk_path,
        "root of the dubbo layout (the Dubbo registry's group, /dubbo by default)",
    ),
)
