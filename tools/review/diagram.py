"""Architecture diagrams as Mermaid flowcharts, drawn from the synthesized JSON's security groups.

A node is a security group with what it protects (the load balancer, the ECS service, the host, the
database, the cache), inside the subgraph of the stack that defines the group; the internet
(0.0.0.0/0, ::/0) and any other CIDR are nodes of their own. An edge is what the rules open: an
ingress rule draws peer -> group, an egress rule group -> peer, one edge per pair with the ports
joined. Both sides of a group-to-group connection draw the same edge, so they merge, and a one-sided
rule still shows. Nothing about the design is assumed: a rule opening the database to the internet
draws that edge.

``review_diagram`` draws base and head in one: what a change adds in green ("+ "), what it removes
in red and dashed ("− "), nodes likewise, within a size budget.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from modules.names import COMPUTE_STACKS
from tools.cost.options import OPTIONS, Option
from tools.tfjson import Stack, display_name, literal, remote_output

INTERNET = "internet"
INTERNET_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
GROUP_TYPES = ("aws_security_group", "aws_default_security_group")
RULE_TYPES = frozenset(
    {"aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule", "aws_security_group_rule"}
)
# The arguments that put a resource in security groups: aws_lb, an ECS service's network_configuration,
# aws_instance and aws_db_instance, ElastiCache, Lambda's vpc_config, launch templates.
ATTACH_KEYS = frozenset({"security_groups", "vpc_security_group_ids", "security_group_ids"})
_KINDS = {
    "aws_lb": "load balancer",
    "aws_ecs_service": "ECS service",
    "aws_instance": "EC2",
    "aws_db_instance": "RDS",
    "aws_elasticache_replication_group": "ElastiCache",
}
# Arguments whose literal values say what a resource runs (engine, size, launch type).
_DETAIL_KEYS = (
    "load_balancer_type",
    "launch_type",
    "engine",
    "engine_version",
    "instance_type",
    "instance_class",
    "node_type",
)
_GROUP_REFERENCE = re.compile(r"\$\{(aws_(?:default_)?security_group)\.([A-Za-z0-9_-]+)\.id\}")
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "-1": "all", "all": "all"}
# Mermaid's own entities (#quot; or #<code>;): a label is quoted, and none of these may end it early.
_ENTITIES = {c: f"#{ord(c)};" for c in "#;[](){}<>|`&"} | {'"': "#quot;"}

# GitHub allows 65,536 characters per comment and renders at most 50,000 of Mermaid per diagram.
DEFAULT_MAX_CHARS = 20_000
ADDED, REMOVED, CHANGED = "added", "removed", "changed"
_NODE_STYLES = {
    ADDED: "fill:#dafbe1,stroke:#1a7f37,color:#116329",
    REMOVED: "fill:#ffebe9,stroke:#cf222e,color:#a40e26,stroke-dasharray:5 5",
    CHANGED: "fill:#fff8c5,stroke:#9a6700,color:#7d4e00",
    "note": "fill:#f6f8fa,stroke:#8c959f,color:#57606a",
}
_LINK_STYLES = {
    ADDED: "stroke:#1a7f37,stroke-width:2px,color:#1a7f37",
    REMOVED: "stroke:#cf222e,stroke-width:2px,stroke-dasharray:5 5,color:#cf222e",
}
_PREFIX = {ADDED: "+ ", REMOVED: "− "}


@dataclass(frozen=True)
class Node:
    key: str  # the same thing has the same key in base and head: "internet", "cidr:…", "sg:stack:address"
    lines: tuple[str, ...]
    stack: str | None = None  # the subgraph; None: outside every stack (the internet, CIDRs)
    id_hint: str = ""  # readable part of the Mermaid id


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (source, destination): ports


def diagram_options(*stack_sets: dict[str, Stack]) -> list[Option]:
    """The guide's options (one compute each) whose stacks are all among the given ones; the cost
    tool's third option, both computes side by side, is their union and draws nothing new."""
    names = {name for stacks in stack_sets for name in stacks}
    return [
        option
        for option in OPTIONS
        if len(set(option.stacks) & set(COMPUTE_STACKS)) == 1 and set(option.stacks) <= names
    ]


def option_diagram(stacks: dict[str, Stack], option: Option) -> str:
    """The option's architecture: Mermaid source without fences."""
    missing = [name for name in option.stacks if name not in stacks]
    if missing:
        raise ValueError(f"{option.label}: stacks {', '.join(missing)} were not given")
    graph = build_graph(stacks, option)
    links = [_Link(pair, frozenset(ports), None) for pair, ports in graph.edges.items()]
    return _Drawing(graph.nodes, {}, links, option).text()


def review_diagram(
    base: dict[str, Stack], head: dict[str, Stack], option: Option, max_chars: int = DEFAULT_MAX_CHARS
) -> str | None:
    """Base and head of the option in one diagram, the change marked; None when it draws the same.

    Longer than ``max_chars``, it keeps only what changed (the internet's new ways in first), as much
    as fits, and a note counts what it left out."""
    before, after = build_graph(base, option), build_graph(head, option)
    if before == after:
        return None
    nodes = {**before.nodes, **after.nodes}
    status = {key: ADDED for key in after.nodes.keys() - before.nodes.keys()}
    status |= {key: REMOVED for key in before.nodes.keys() - after.nodes.keys()}
    for key in before.nodes.keys() & after.nodes.keys():
        if before.nodes[key] != after.nodes[key]:
            status[key] = CHANGED
            nodes[key] = _merged(before.nodes[key], after.nodes[key])
    links: list[_Link] = []
    for pair in dict.fromkeys([*after.edges, *before.edges]):
        old, new = before.edges.get(pair, set()), after.edges.get(pair, set())
        links += [
            _Link(pair, frozenset(ports), mark)
            for ports, mark in ((old & new, None), (new - old, ADDED), (old - new, REMOVED))
            if ports
        ]
    full = _Drawing(nodes, status, links, option).text()
    if len(full) <= max_chars:
        return full
    return _collapsed(nodes, status, links, option, max_chars)


def _merged(old: Node, new: Node) -> Node:
    """A changed node's label: head's lines, those it adds marked "+ ", base's it drops "− "."""
    lines = [line if line in old.lines else _PREFIX[ADDED] + line for line in new.lines]
    lines += [_PREFIX[REMOVED] + line for line in old.lines if line not in new.lines]
    return Node(new.key, tuple(lines), new.stack, new.id_hint)


def build_graph(stacks: dict[str, Stack], option: Option) -> Graph:
    """The option's security-group graph from those of its stacks that are given."""
    return _Builder(stacks).graph([stacks[name] for name in option.stacks if name in stacks])


class _Builder:
    def __init__(self, stacks: dict[str, Stack]) -> None:
        self.stacks = stacks  # all of them: a remote output may be read from a stack outside the option
        self.nodes: dict[str, Node] = {}

    def graph(self, option_stacks: list[Stack]) -> Graph:
        edges: dict[tuple[str, str], set[str]] = {}
        attached: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for stack in option_stacks:
            for direction, group, peers, port in _rules(stack):
                group_key = self.peer(stack, "group", group)
                for kind, value in peers:
                    peer_key = self.peer(stack, kind, value)
                    pair = (peer_key, group_key) if direction == "ingress" else (group_key, peer_key)
                    edges.setdefault(pair, set()).add(port)
            for block, type_, _, body in stack.blocks():
                if block == "resource" and type_ not in RULE_TYPES and type_ not in GROUP_TYPES:
                    for value in _attachments(body):
                        attached.setdefault(self.peer(stack, "group", value), []).append((type_, body))
        nodes = {key: self._labelled(self.nodes[key], attached.get(key, [])) for key in self.nodes}
        order = {key: index for index, key in enumerate(sorted(nodes, key=lambda k: _node_order(nodes[k])))}
        ordered = sorted(edges.items(), key=lambda item: (order[item[0][0]], order[item[0][1]]))
        return Graph(
            {key: nodes[key] for key in sorted(nodes, key=order.__getitem__)},
            {pair: ports for pair, ports in ordered},
        )

    def peer(self, stack: Stack, kind: str, value: Any) -> str:
        """The node a rule's group, peer or a resource's group reference stands for; made on first use."""
        text = str(value)
        if kind == "cidr":
            if text in INTERNET_CIDRS:
                return self._add(Node(INTERNET, (INTERNET,), id_hint=INTERNET))
            return self._add(Node(f"cidr:{text}", (text,), id_hint=f"cidr_{text}"))
        if kind == "prefix":
            return self._add(Node(f"prefix:{text}", (f"prefix list {text}",), id_hint=f"pl_{text}"))
        return self._group(stack, text, hops=len(self.stacks))

    def _group(self, stack: Stack, value: str, hops: int) -> str:
        match = _GROUP_REFERENCE.fullmatch(value)
        if match and match[2] in stack.resources(match[1]):
            body = stack.resources(match[1])[match[2]]
            name = literal(body.get("name")) or literal(body.get("name_prefix")) or match[2]
            key = f"sg:{stack.name}:{match[1]}.{match[2]}"
            return self._add(Node(key, (f"SG {name}",), stack.name, f"sg_{name}"))
        found = remote_output(value)
        if found and found[0] in self.stacks and hops:
            other = self.stacks[found[0]]
            output = other.outputs.get(found[1])
            if isinstance(output, dict) and isinstance(output.get("value"), str):
                return self._group(other, output["value"], hops - 1)
        # A group this JSON cannot resolve (a data source, a literal id, a stack not given): as written.
        text = f"{found[0]} output {found[1]}" if found else value
        return self._add(Node(f"ref:{value}", (text,), id_hint=f"ref_{text}"))

    def _add(self, node: Node) -> str:
        self.nodes.setdefault(node.key, node)
        return node.key

    @staticmethod
    def _labelled(node: Node, attached: list[tuple[str, dict[str, Any]]]) -> Node:
        lines = [line for type_, body in attached for line in (_name(body), _kind(type_, body))]
        return Node(node.key, (*lines, *node.lines), node.stack, node.id_hint)


def _rules(stack: Stack) -> Iterator[tuple[str, str, list[tuple[str, Any]], str]]:
    """``(direction, group, [(peer kind, value)], port)`` of every rule, whichever resource holds it."""
    for direction in ("ingress", "egress"):
        for body in stack.resources(f"aws_vpc_security_group_{direction}_rule").values():
            peers = [
                ("group", body.get("referenced_security_group_id")),
                ("cidr", body.get("cidr_ipv4")),
                ("cidr", body.get("cidr_ipv6")),
                ("prefix", body.get("prefix_list_id")),
            ]
            port = _port(body.get("ip_protocol"), body.get("from_port"), body.get("to_port"))
            yield direction, body.get("security_group_id"), [p for p in peers if p[1]], port
    for body in stack.resources("aws_security_group_rule").values():
        group = body.get("security_group_id")
        peers = [
            ("group", body.get("source_security_group_id")),
            ("group", group if body.get("self") else None),
        ]
        yield body.get("type"), group, [p for p in peers if p[1]] + _block_peers(body), _port_of(body)
    for type_ in GROUP_TYPES:
        for name, body in stack.resources(type_).items():
            group = f"${{{type_}.{name}.id}}"
            for direction in ("ingress", "egress"):
                for block in _list(body.get(direction)):
                    if isinstance(block, dict):
                        peers = [("group", value) for value in _list(block.get("security_groups"))]
                        peers += [("group", group)] if block.get("self") else []
                        yield direction, group, peers + _block_peers(block), _port_of(block)


def _block_peers(block: dict[str, Any]) -> list[tuple[str, Any]]:
    """CIDR and prefix-list peers of an ``aws_security_group_rule`` or an inline rule."""
    return [
        *(("cidr", value) for value in _list(block.get("cidr_blocks"))),
        *(("cidr", value) for value in _list(block.get("ipv6_cidr_blocks"))),
        *(("prefix", value) for value in _list(block.get("prefix_list_ids"))),
    ]


def _port_of(block: dict[str, Any]) -> str:
    return _port(block.get("protocol"), block.get("from_port"), block.get("to_port"))


def _port(protocol: Any, low: Any, high: Any) -> str:
    """What one rule opens: "443", "1024-2048", "53/udp", "icmp" or "all"."""
    name = _PROTOCOLS.get(str(protocol).lower(), str(protocol).lower())
    if name == "all" or name.startswith("icmp"):
        return name
    ports = str(low) if low == high or high is None else f"{low}-{high}"
    return ports if name == "tcp" else f"{ports}/{name}"


def _port_order(port: str) -> tuple[int, str]:
    number = re.match(r"\d+", port)
    return (int(number[0]) if number else -1, port)


def _attachments(body: Any) -> Iterator[Any]:
    """Every group a resource's arguments put it in, however deep (``network_configuration``)."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key in ATTACH_KEYS:
                yield from _list(value)
            elif key != "//":
                yield from _attachments(value)
    elif isinstance(body, list):
        for item in body:
            yield from _attachments(item)


def _list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _name(body: dict[str, Any]) -> str:
    return display_name(body) or body.get("//", {}).get("metadata", {}).get("path", "?").rsplit("/", 1)[-1]


def _kind(type_: str, body: dict[str, Any]) -> str:
    kind = _KINDS.get(type_, type_.removeprefix("aws_").replace("_", " "))
    details = [body.get(key) for key in _DETAIL_KEYS]
    details += [
        s.get("capacity_provider")
        for s in _list(body.get("capacity_provider_strategy"))
        if isinstance(s, dict)
    ]
    given = [str(value) for value in details if isinstance(value, str | int) and literal(str(value))]
    return " · ".join([kind, " ".join(dict.fromkeys(given))]) if given else kind


def _node_order(node: Node) -> tuple:
    """The internet first, then other addresses, then groups by stack and name."""
    rank = 0 if node.key == INTERNET else 1 if node.stack is None else 2
    # Digits as numbers: extra-2-sg before extra-10-sg.
    natural = tuple(
        tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", line)) for line in node.lines
    )
    return (rank, node.stack or "", natural)


@dataclass(frozen=True)
class _Link:
    pair: tuple[str, str]
    ports: frozenset[str]
    mark: str | None  # ADDED, REMOVED or None (there before and after)

    def label(self) -> str:
        return _PREFIX.get(self.mark or "", "") + ", ".join(sorted(self.ports, key=_port_order))


@dataclass
class _Drawing:
    nodes: dict[str, Node]
    status: dict[str, str]  # node key: ADDED, REMOVED or CHANGED
    links: list[_Link]
    option: Option
    note: str = ""  # what a collapsed diagram left out
    only: set[str] | None = None  # the nodes a collapsed diagram draws; None: all

    def text(self) -> str:
        ids = _ids(self.nodes.values())
        keys = [key for key in self.nodes if self.only is None or key in self.only]
        lines = ["flowchart TB"]
        lines += [
            f"  {_node_line(ids[key], self.nodes[key])}" for key in keys if self.nodes[key].stack is None
        ]
        stacks = [name for name in self.option.stacks if any(self.nodes[k].stack == name for k in keys)]
        stacks += sorted({self.nodes[k].stack for k in keys if self.nodes[k].stack} - set(stacks))
        for stack in stacks:
            lines.append(f'  subgraph {_safe_id("stack_" + stack)}["{escape(stack)}"]')
            lines += [
                f"    {_node_line(ids[k], self.nodes[k])}" for k in keys if self.nodes[k].stack == stack
            ]
            lines.append("  end")
        if self.note:
            lines.append(f'  note["{escape(self.note)}"]:::note')
        for link in self.links:
            arrow = "-.->" if link.mark == REMOVED else "-->"
            source, destination = (ids[key] for key in link.pair)
            lines.append(f'  {source} {arrow}|"{escape(link.label())}"| {destination}')
        for mark, style in _LINK_STYLES.items():
            indices = [str(i) for i, link in enumerate(self.links) if link.mark == mark]
            if indices:
                lines.append(f"  linkStyle {','.join(indices)} {style}")
        marks = {self.status[key] for key in keys if key in self.status} | ({"note"} if self.note else set())
        lines += [f"  classDef {mark} {style}" for mark, style in _NODE_STYLES.items() if mark in marks]
        for mark in (ADDED, REMOVED, CHANGED):
            marked = [ids[key] for key in keys if self.status.get(key) == mark]
            if marked:
                lines.append(f"  class {','.join(marked)} {mark}")
        return "\n".join(lines)


def _collapsed(
    nodes: dict[str, Node], status: dict[str, str], links: list[_Link], option: Option, max_chars: int
) -> str:
    """The changes only, the riskiest first, as many as fit in ``max_chars`` with a note on the rest."""
    changes: list[_Link | str] = [link for link in links if link.mark]
    changes += [key for key in nodes if key in status]
    marks = (ADDED, REMOVED, CHANGED)

    def priority(change: _Link | str) -> tuple[int, int]:
        if isinstance(change, str):
            return (2, marks.index(status[change]))
        return (0 if INTERNET in change.pair else 1, marks.index(change.mark or ADDED))

    changes.sort(key=priority)
    unchanged = sum(1 for link in links if not link.mark)

    def drawing(count: int) -> str:
        drawn_links = [change for change in changes[:count] if isinstance(change, _Link)]
        only = {key for link in drawn_links for key in link.pair}
        only |= {change for change in changes[:count] if isinstance(change, str)}
        more_links = sum(1 for link in links if link.mark) - len(drawn_links)
        more_nodes = sum(1 for key in status if key not in only)
        counts = [(unchanged, "unchanged connections"), (more_links, "more changed connections")]
        counts.append((more_nodes, "more changed nodes"))
        note = ", ".join(f"{count} {what}" for count, what in counts if count) + " not drawn"
        return _Drawing(nodes, status, drawn_links, option, note, only).text()

    low, high = 0, len(changes)  # the most changes that fit: the text grows with their count
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if len(drawing(middle)) <= max_chars else (low, middle - 1)
    text = drawing(low)
    if len(text) > max_chars:
        raise ValueError(f"max_chars={max_chars} cannot hold even a summary ({len(text)} characters)")
    return text


def escape(text: str) -> str:
    """Text for inside a quoted Mermaid label."""
    return "".join(_ENTITIES.get(char, char) for char in " ".join(str(text).split()))


def _node_line(node_id: str, node: Node) -> str:
    label = "<br/>".join(
        f"<b>{escape(line)}</b>" if index == 0 and len(node.lines) > 1 else escape(line)
        for index, line in enumerate(node.lines)
    )
    if node.key == INTERNET:
        return f'{node_id}(("{label}"))'
    if node.stack is None:
        return f'{node_id}[/"{label}"/]'
    return f'{node_id}["{label}"]'


def _ids(nodes: Iterable[Node]) -> dict[str, str]:
    """Readable, unique Mermaid ids (letters, digits, underscores; never a keyword such as ``end``)."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for node in nodes:
        base = _safe_id(node.id_hint or node.key)[:48]
        candidate, suffix = base, 2
        while candidate in taken:
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        ids[node.key] = candidate
        taken.add(candidate)
    return ids


def _safe_id(text: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    return safe if safe[:1].isalpha() else f"n_{safe}"
