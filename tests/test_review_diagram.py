"""Architecture diagrams drawn from the synthesized security groups (tools/review/diagram.py), rendered
with mermaid-cli in headless Chromium (tools/review/mermaid.py), and the README's copy of them
(tools/review/architecture.py)."""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path

import pytest

from modules.names import (
    DATA_STACK,
    EC2_STACK,
    FARGATE_STACK,
    HTTP_PORT,
    HTTPS_PORT,
    POSTGRES_PORT,
    REDIS_PORT,
)
from tools import bootstrap
from tools.review import architecture, mermaid
from tools.review.diagram import (
    DEFAULT_MAX_CHARS,
    build_graph,
    diagram_options,
    escape,
    option_diagram,
    review_diagram,
)
from tools.tfjson import Stack

ROOT = Path(__file__).resolve().parent.parent
GREEN, RED = "stroke:#1a7f37", "stroke:#cf222e"
NODE = re.compile(r'^\s*(\w+)(?:\(\(|\[/|\[)"(.*?)"')
LINK = re.compile(r'^\s*(\w+) (-->|-\.->)\|"(.*?)"\| (\w+)$')
LINK_STYLE = re.compile(r"^\s*linkStyle ([\d,]+) (.*)$")
PNG = b"\x89PNG\r\n\x1a\n"


def decode_all(label: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m[1])), label.replace("#quot;", '"'))


def decode(label: str) -> str:
    """A Mermaid label as shown: entities resolved, the first line of the node, no markup."""
    return re.sub(r"</?b>", "", decode_all(label.split("<br/>")[0]))


def links(source: str) -> list[tuple[str, str, str, str]]:
    """``(source, label, destination, style)`` per link in order; nodes by their first label line, style
    "added"/"removed" from the linkStyle lines (checked against the arrow), else ""."""
    names = {m[1]: decode(m[2]) for line in source.splitlines() if (m := NODE.match(line))}
    found = [m.groups() for line in source.splitlines() if (m := LINK.match(line))]
    styles: dict[int, str] = {}
    for line in source.splitlines():
        if m := LINK_STYLE.match(line):
            for index in m[1].split(","):
                styles[int(index)] = "added" if GREEN in m[2] else "removed" if RED in m[2] else "?"
    result = []
    for index, (start, arrow, label, end) in enumerate(found):
        style = styles.get(index, "")
        assert (arrow == "-.->") == (style == "removed"), (label, arrow, style)
        result.append((names[start], decode(label), names[end], style))
    return result


def edges(source: str) -> dict[tuple[str, str], str]:
    """One label per (source, destination): two links between the same nodes would fail here."""
    drawn = links(source)
    found = {(start, end): label for start, label, end, _ in drawn}
    assert len(found) == len(drawn), drawn
    return found


def option(compute: str):
    [found] = [
        o for o in diagram_options({name: None for name in (DATA_STACK, compute)}) if compute in o.stacks
    ]
    return found


def copied(stacks: dict[str, Stack]) -> dict[str, Stack]:
    return {name: Stack(s.name, s.directory, copy.deepcopy(s.config)) for name, s in stacks.items()}


def group_ref(stack: Stack, group_name: str) -> str:
    [name] = [n for n, body in stack.resources("aws_security_group").items() if body["name"] == group_name]
    return f"${{aws_security_group.{name}.id}}"


def names(default) -> dict[str, str]:
    """The resources' real names, read from the JSON rather than assumed."""
    fargate, data, ec2 = default[FARGATE_STACK], default[DATA_STACK], default[EC2_STACK]
    database = data.resource("aws_db_instance")
    [database_group] = data.referenced(database["vpc_security_group_ids"], "aws_security_group")
    return {
        "alb": fargate.resource("aws_lb")["name"],
        "service": fargate.resource("aws_ecs_service")["name"],
        "host": ec2.resource("aws_instance")["tags"]["Name"],
        "db": database["identifier"],
        "db_sg": database_group[1]["name"],
        "redis": data.resource("aws_elasticache_replication_group")["replication_group_id"],
    }


def with_open_database(stacks: dict[str, Stack], form: str) -> dict[str, Stack]:
    """The stacks plus one rule opening PostgreSQL to the whole internet, in one of the four forms."""
    head = copied(stacks)
    data = head[DATA_STACK]
    group = group_ref(data, names(stacks)["db_sg"])
    resources = data.config["resource"]
    port = {"from_port": POSTGRES_PORT, "to_port": POSTGRES_PORT}
    vpc_rules = resources.setdefault("aws_vpc_security_group_ingress_rule", {})
    if form == "vpc rule":
        vpc_rules["open"] = {
            "security_group_id": group,
            "ip_protocol": "tcp",
            "cidr_ipv4": "0.0.0.0/0",
            **port,
        }
    elif form == "vpc rule, IPv6":
        vpc_rules["open"] = {"security_group_id": group, "ip_protocol": "6", "cidr_ipv6": "::/0", **port}
    elif form == "aws_security_group_rule":
        rule = {
            "type": "ingress",
            "security_group_id": group,
            "protocol": "tcp",
            "cidr_blocks": ["0.0.0.0/0"],
        }
        resources["aws_security_group_rule"] = {"open": {**rule, **port}}
    else:
        name = group.split(".")[1]
        resources["aws_security_group"][name]["ingress"] = [
            {"protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], **port}
        ]
    return head


def test_option_1_is_internet_to_alb_to_tasks_to_database_and_cache(default):
    """Exactly the guide's graph, plus the tasks' own way out (HTTPS through NAT: image pulls, AWS APIs)."""
    n = names(default)
    source = option_diagram(default.stacks, option(FARGATE_STACK))
    assert edges(source) == {
        ("internet", n["alb"]): f"{HTTP_PORT}, {HTTPS_PORT}",
        (n["alb"], n["service"]): str(default.settings.app_port),
        (n["service"], n["db"]): str(POSTGRES_PORT),
        (n["service"], n["redis"]): str(REDIS_PORT),
        (n["service"], "internet"): str(HTTPS_PORT),
    }
    assert f"SG {n['db_sg']}" in source and "SG homu-alb-sg" in source  # the group's name under the resource


def test_option_2_is_internet_to_the_host_to_database_and_cache(default):
    n = names(default)
    source = option_diagram(default.stacks, option(EC2_STACK))
    assert edges(source) == {
        ("internet", n["host"]): f"{HTTP_PORT}, {HTTPS_PORT}",
        (n["host"], n["db"]): str(POSTGRES_PORT),
        (n["host"], n["redis"]): str(REDIS_PORT),
        (n["host"], "internet"): f"{HTTP_PORT}, {HTTPS_PORT}",  # package mirrors, ACME, AWS APIs
    }
    assert not any(stack == FARGATE_STACK for stack in _stacks_drawn(source))


def _stacks_drawn(source: str) -> list[str]:
    return re.findall(r'subgraph \w+\["(.*?)"\]', source)


def test_each_group_is_drawn_in_the_stack_that_defines_it_through_remote_state(default):
    """The compute's rules name the data tier's groups by remote-state outputs: they resolve to them."""
    graph = build_graph(default.stacks, option(FARGATE_STACK))
    by_name = {node.lines[0]: node for node in graph.nodes.values()}
    n = names(default)
    assert by_name[n["db"]].stack == by_name[n["redis"]].stack == DATA_STACK
    assert by_name[n["alb"]].stack == by_name[n["service"]].stack == FARGATE_STACK
    assert by_name["internet"].stack is None
    assert _stacks_drawn(option_diagram(default.stacks, option(FARGATE_STACK))) == [DATA_STACK, FARGATE_STACK]


@pytest.mark.parametrize("form", ["vpc rule", "vpc rule, IPv6", "aws_security_group_rule", "inline"])
def test_a_rule_opening_the_database_to_the_internet_is_drawn_and_marked_added(default, form):
    n = names(default)
    assert ("internet", n["db"]) not in edges(option_diagram(default.stacks, option(FARGATE_STACK)))
    head = with_open_database(default.stacks, form)
    for compute in (FARGATE_STACK, EC2_STACK):
        assert edges(option_diagram(head, option(compute)))[("internet", n["db"])] == str(POSTGRES_PORT)
        review = review_diagram(default.stacks, head, option(compute))
        assert ("internet", f"+ {POSTGRES_PORT}", n["db"], "added") in links(review)
        assert all(
            style == "" for start, _, end, style in links(review) if (start, end) != ("internet", n["db"])
        )


def test_a_removed_rule_is_marked_removed_and_the_ports_kept_stay_plain(default):
    n = names(default)
    head = copied(default.stacks)
    rules = head[FARGATE_STACK].config["resource"]["aws_vpc_security_group_ingress_rule"]
    [http] = [name for name, rule in rules.items() if rule.get("from_port") == HTTP_PORT]
    del rules[http]
    review_links = links(review_diagram(default.stacks, head, option(FARGATE_STACK)))
    internet_to_alb = [link for link in review_links if (link[0], link[2]) == ("internet", n["alb"])]
    assert sorted(internet_to_alb) == [
        ("internet", str(HTTPS_PORT), n["alb"], ""),
        ("internet", f"− {HTTP_PORT}", n["alb"], "removed"),
    ]
    assert review_diagram(default.stacks, head, option(EC2_STACK)) is None  # option 2 has no such rule


def classes(source: str) -> dict[str, str]:
    """Mark per node, every label line naming its node (e.g. "SG homu-alb-sg")."""
    marks = {
        i: mark
        for ids, mark in re.findall(r"^\s*class ([\w,]+) (\w+)$", source, re.MULTILINE)
        for i in ids.split(",")
    }
    labels = [(m[1], m[2]) for line in source.splitlines() if (m := NODE.match(line))]
    return {
        re.sub(r"</?b>", "", decode_all(line)): marks.get(node_id, "")
        for node_id, label in labels
        for line in label.split("<br/>")
    }


def moved_entry(stacks: dict[str, Stack]) -> tuple[dict[str, Stack], str]:
    """The load balancer moved to a new group open to one address only, the database's class changed;
    and the class it had."""
    head = copied(stacks)
    fargate = head[FARGATE_STACK].config["resource"]
    entry = group_ref(head[FARGATE_STACK], "homu-alb-sg")
    del fargate["aws_security_group"][entry.split(".")[1]]
    for type_ in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
        fargate[type_] = {k: r for k, r in fargate[type_].items() if entry not in r.values()}
    fargate["aws_security_group"]["admin"] = {"name": "homu-admin-sg", "vpc_id": "x"}
    admin = "${aws_security_group.admin.id}"
    ssh = {"ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_ipv4": "198.51.100.7/32"}
    fargate["aws_vpc_security_group_ingress_rule"]["admin"] = {"security_group_id": admin, **ssh}
    next(iter(fargate["aws_lb"].values()))["security_groups"] = [admin]
    database = next(iter(head[DATA_STACK].config["resource"]["aws_db_instance"].values()))
    old_class, database["instance_class"] = database["instance_class"], "db.r6g.large"
    return head, old_class


def test_added_removed_and_changed_groups_are_marked(default):
    n = names(default)
    head, old_class = moved_entry(default.stacks)
    review = review_diagram(default.stacks, head, option(FARGATE_STACK))
    marks = classes(review)
    assert marks["SG homu-alb-sg"] == "removed" and marks["SG homu-admin-sg"] == "added"
    assert marks["198.51.100.7/32"] == "added"  # another CIDR: a node of its own
    assert marks["+ RDS · postgres 15 db.r6g.large"] == marks[f"− RDS · postgres 15 {old_class}"] == "changed"
    assert marks[f"SG {n['db_sg']}"] == "changed" and marks["SG homu-backend-sg"] == ""
    assert ("198.51.100.7/32", "+ 22", n["alb"], "added") in links(review)
    assert ("internet", f"− {HTTP_PORT}, {HTTPS_PORT}", n["alb"], "removed") in links(review)
    assert (n["service"], f"{POSTGRES_PORT}", n["db"], "") in links(review)


def test_identical_stacks_draw_nothing(default):
    same = copied(default.stacks)
    assert [review_diagram(default.stacks, same, o) for o in diagram_options(default.stacks)] == [None, None]


def test_only_the_guides_two_options_and_only_when_their_stacks_are_there(default):
    assert [o.stacks for o in diagram_options(default.stacks)] == [
        (DATA_STACK, FARGATE_STACK),
        (DATA_STACK, EC2_STACK),
    ]
    without_ec2 = {name: stack for name, stack in default.stacks.items() if name != EC2_STACK}
    assert [o.stacks for o in diagram_options(without_ec2)] == [(DATA_STACK, FARGATE_STACK)]
    assert [o.stacks for o in diagram_options(without_ec2, default.stacks)] == [
        (DATA_STACK, FARGATE_STACK),
        (DATA_STACK, EC2_STACK),
    ]
    with pytest.raises(ValueError, match=EC2_STACK):
        option_diagram(without_ec2, option(EC2_STACK))


def large_change(stacks: dict[str, Stack], count: int) -> dict[str, Stack]:
    """``count`` new groups, each opened to the internet on a port of its own."""
    head = with_open_database(stacks, "vpc rule")
    resources = head[FARGATE_STACK].config["resource"]
    for i in range(count):
        resources["aws_security_group"][f"extra{i}"] = {"name": f"extra-{i}-sg", "description": "x"}
        port = {"ip_protocol": "tcp", "from_port": 10000 + i, "to_port": 10000 + i}
        resources["aws_vpc_security_group_ingress_rule"][f"extra{i}"] = {
            "security_group_id": f"${{aws_security_group.extra{i}.id}}",
            "cidr_ipv4": "0.0.0.0/0",
            **port,
        }
    return head


def test_a_large_change_collapses_to_what_changed_within_the_cap(default):
    head = large_change(default.stacks, 600)
    for cap in (DEFAULT_MAX_CHARS, 4_000):
        review = review_diagram(default.stacks, head, option(FARGATE_STACK), max_chars=cap)
        assert len(review) <= cap
        drawn = links(review)
        assert drawn[0] == (
            "internet",
            f"+ {POSTGRES_PORT}",
            names(default)["db"],
            "added",
        )  # the riskiest first
        assert all(style == "added" for *_, style in drawn)  # unchanged connections are left out
        assert re.search(
            r"\d+ unchanged connections, \d+ more changed connections, \d+ more changed nodes not drawn",
            decode_all(review),
        )
    with pytest.raises(ValueError, match="cannot hold"):
        review_diagram(default.stacks, head, option(FARGATE_STACK), max_chars=100)


def test_labels_are_escaped_for_mermaid():
    assert escape('a "b" [c]; #d <e>') == "a #quot;b#quot; #91;c#93;#59; #35;d #60;e#62;"
    assert decode(escape('x "y" #1; (z)')) == 'x "y" #1; (z)'


def rendered_sources(default) -> dict[str, str]:
    return {
        "option 1": option_diagram(default.stacks, option(FARGATE_STACK)),
        "option 2": option_diagram(default.stacks, option(EC2_STACK)),
        "review": review_diagram(default.stacks, moved_entry(default.stacks)[0], option(FARGATE_STACK)),
        "review, database opened": review_diagram(
            default.stacks, with_open_database(default.stacks, "vpc rule"), option(EC2_STACK)
        ),
        "collapsed": review_diagram(
            default.stacks, large_change(default.stacks, 600), option(FARGATE_STACK), max_chars=6_000
        ),
    }


def test_every_diagram_renders_in_headless_chromium(default, tmp_path):
    """No skip when mermaid-cli or Chromium is missing: `make test` installs both."""
    timings = {}
    sources = rendered_sources(default)
    for name, source in sources.items():
        output = (tmp_path / re.sub(r"\W+", "-", name)).with_suffix(".png")
        started = time.monotonic()
        mermaid.render(source, output)
        timings[name] = round(time.monotonic() - started, 1)
        assert output.read_bytes().startswith(PNG) and output.stat().st_size > 10_000, name
    svg = mermaid.render(sources["review"], tmp_path / "review.svg")
    assert "<svg" in svg.read_text()[:2000]
    print(f"render seconds per diagram: {timings}")


def test_a_broken_diagram_fails_with_mermaids_parse_error(tmp_path):
    with pytest.raises(mermaid.MermaidError, match=r"(?s)broken\.png.*Parse error on line \d+") as raised:
        mermaid.render('flowchart TB\n  a["unclosed --> b\n', tmp_path / "broken.png")
    assert "    at " not in str(raised.value)  # mmdc's message, not its JavaScript stack
    assert not (tmp_path / "broken.png").exists()


def test_a_missing_renderer_names_the_set_up_that_installs_it(monkeypatch, tmp_path):
    monkeypatch.setattr(mermaid, "MMDC", tmp_path / "mmdc")
    with pytest.raises(mermaid.MermaidError, match="tools.bootstrap test"):
        mermaid.render("flowchart TB\n  a --> b\n", tmp_path / "x.png")


# The README's block and docs images: tools/review/architecture.py against a copy with the markers.


@pytest.fixture
def readme(tmp_path) -> Path:
    path = tmp_path / "README.md"
    path.write_text(f"# HOMU\n\nintro\n\n{architecture.BEGIN}\nhand-drawn\n{architecture.END}\n\nrest\n")
    return path


@pytest.fixture
def fake_render(monkeypatch) -> list[str]:
    """Rendering replaced by a stand-in (real rendering: the test above): the sources it was asked for."""
    asked: list[str] = []

    def render(source: str, output: Path, scale: int = 1) -> Path:
        asked.append(source)
        output.write_bytes(PNG)
        return output

    monkeypatch.setattr(architecture, "render", render)
    return asked


def run_architecture(default, readme: Path, *extra: str) -> int:
    docs = readme.parent / "docs"
    return architecture.main(
        ["--outdir", str(default.outdir), "--readme", str(readme), "--docs", str(docs), *extra]
    )


def test_architecture_writes_the_block_and_images_then_check_passes(default, readme, fake_render, capsys):
    assert run_architecture(default, readme, "--check") == 1
    assert "architecture block differs" in capsys.readouterr().err
    assert run_architecture(default, readme) == 0
    text = readme.read_text()
    assert text.startswith("# HOMU\n\nintro\n\n") and text.endswith(f"{architecture.END}\n\nrest\n")
    assert "hand-drawn" not in text
    for compute in (FARGATE_STACK, EC2_STACK):
        source = option_diagram(default.stacks, option(compute))
        assert f"```mermaid\n{source}\n```" in text
        image = readme.parent / "docs" / f"architecture-{compute.split('-')[1]}.png"
        assert f"]({image.relative_to(readme.parent)})" in text
        assert image.read_bytes() == PNG and image.with_suffix(".mmd").read_text() == source + "\n"
    assert len(fake_render) == 2
    assert run_architecture(default, readme, "--check") == 0
    assert run_architecture(default, readme) == 0 and len(fake_render) == 2  # nothing stale, nothing rendered


def test_check_names_each_stale_part_and_writes_nothing(default, readme, fake_render, capsys):
    run_architecture(default, readme)
    docs = readme.parent / "docs"
    readme.write_text(readme.read_text().replace("80, 443", "80"))
    (docs / "architecture-ec2.png").unlink()
    (docs / "architecture-fargate.mmd").write_text("flowchart TB\n")
    capsys.readouterr()
    assert run_architecture(default, readme, "--check") == 1
    err = capsys.readouterr().err
    assert "README.md: the architecture block differs" in err
    assert "architecture-ec2.png: missing" in err
    assert "architecture-fargate.png: rendered from other source" in err
    assert not (docs / "architecture-ec2.png").exists() and "80, 443" not in readme.read_text()


def test_a_readme_without_markers_fails_with_one_line(default, tmp_path, fake_render, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# HOMU\n")
    assert run_architecture(default, readme) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert architecture.BEGIN in line and "README.md" in line
    assert fake_render == [] and readme.read_text() == "# HOMU\n"


def test_the_readme_and_docs_images_are_current(default):
    """The README's diagrams and docs/architecture-*.png come from the default synthesis."""
    found = architecture.diagrams(default.outdir, ROOT / "docs")
    try:
        stale = architecture.stale(found, ROOT / "README.md")
    except architecture.ArchitectureError as error:
        pytest.fail(str(error))
    assert not stale, "stale (regenerate: python -m tools.review.architecture):\n" + "\n".join(stale)


# The set-up: rendering's packages come with `make test` only.


def test_synth_never_installs_the_renderer_and_test_does(monkeypatch):
    called: list[str] = []
    monkeypatch.setattr(bootstrap, "ensure_tools", lambda tools, install: called.append(
        "chromium" if bootstrap.TEST_TOOLS[-1] in tools else "no chromium"
    ))  # fmt: skip
    monkeypatch.setattr(bootstrap, "ensure_python_packages", lambda dev: None)
    monkeypatch.setattr(bootstrap, "ensure_node_packages", lambda: called.append("cdktf"))
    monkeypatch.setattr(bootstrap, "ensure_render_packages", lambda: called.append("mermaid-cli"))
    assert bootstrap.main(["synth"]) == 0 and bootstrap.main(["dev"]) == 0
    assert called == ["no chromium", "cdktf", "no chromium", "cdktf"]
    called.clear()
    assert bootstrap.main(["test"]) == 0
    assert called == ["chromium", "cdktf", "mermaid-cli"]


def test_the_renderer_installs_from_its_lock_without_a_browser_download_once(monkeypatch, tmp_path):
    prefix = tmp_path / "review"
    (prefix / "node_modules").mkdir(parents=True)
    (prefix / "package-lock.json").write_text("{}")
    monkeypatch.setattr(bootstrap, "ROOT", tmp_path)
    monkeypatch.setattr(bootstrap, "RENDER_PREFIX", prefix)
    runs = []
    monkeypatch.setattr(
        bootstrap, "run", lambda argv, quiet=False, env=None, cwd=None: runs.append((argv, env, cwd))
    )
    bootstrap.ensure_render_packages()
    bootstrap.ensure_render_packages()
    [(argv, env, cwd)] = runs
    # In its directory: --prefix would also move npm's global config (the machine's CA) away.
    assert argv[:2] == ["npm", "ci"] and "--prefix" not in argv and cwd == prefix
    assert env == {"PUPPETEER_SKIP_DOWNLOAD": "1"}
    (prefix / "package-lock.json").write_text('{"changed": 1}')
    bootstrap.ensure_render_packages()
    assert len(runs) == 2


def test_a_renderer_that_cannot_install_is_named_in_one_line(monkeypatch, tmp_path):
    prefix = tmp_path / "review"
    prefix.mkdir()
    (prefix / "package-lock.json").write_text("{}")
    monkeypatch.setattr(bootstrap, "ROOT", tmp_path)
    monkeypatch.setattr(bootstrap, "RENDER_PREFIX", prefix)

    def fail(argv, quiet=False, env=None, cwd=None):
        raise bootstrap.BootstrapError(["npm failed"])

    monkeypatch.setattr(bootstrap, "run", fail)
    with pytest.raises(bootstrap.BootstrapError) as raised:
        bootstrap.ensure_render_packages()
    [line] = raised.value.lines
    assert line.startswith("missing: mmdc (@mermaid-js/mermaid-cli") and line.endswith(
        "install: (cd review && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)"
    )


def test_the_render_lock_pins_mermaid_cli_and_the_root_lock_does_not_carry_it():
    import json

    render_lock = json.loads((bootstrap.RENDER_PREFIX / "package-lock.json").read_text())
    root = render_lock["packages"][""]["dependencies"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", root["@mermaid-js/mermaid-cli"])
    assert (
        render_lock["packages"]["node_modules/@mermaid-js/mermaid-cli"]["version"]
        == root["@mermaid-js/mermaid-cli"]
    )
    assert "@mermaid-js/mermaid-cli" not in (ROOT / "package-lock.json").read_text()
