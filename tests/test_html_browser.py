"""`bpcalc draw -o html` in a real browser: Debian's headless Chromium driven by selenium
through chromium-driver, with the network pointed nowhere.

Skips with a reason where Chromium or chromedriver is missing (a machine with only uv);
.ci/run installs both and fails without them, so CI never skips these.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GRAPHS, Invoke
from tests.test_html_page import HOSTILE, REUSE, big_graph

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no headless browser: install Debian's chromium and chromium-driver "
    "(sudo apt-get install chromium chromium-driver)",
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--proxy-server=127.0.0.1:9",  # any request would go to a closed port
    "--proxy-bypass-list=<-loopback>",
    "--window-size=1400,900",
]


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="bpcalc-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver: Any, path: Path) -> None:
    """Load the page from disk and wait until its script has drawn it; forget old logs."""
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.body.dataset.ready === 'true'")
    )


def write_page(invoke: Invoke, tmp_path: Path, graph: str, name: str = "page.html") -> Path:
    result = invoke("draw", graph, "-o", "html")
    assert result.exit_code == 0, result.output
    path = tmp_path / name
    path.write_text(result.stdout, encoding="utf-8")
    return path


def press(driver: Any, *keys: str) -> None:
    """Keys as a person types them, to whatever has the focus."""
    ActionChains(driver).send_keys(*keys).perform()


def errors(driver: Any) -> list[dict[str, Any]]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def requests(driver: Any, page: Path) -> list[str]:
    """Every URL the page asked for (Chrome's network events whose document is the page), but
    the page itself. Chromium's own pages (a new tab's chrome://resources/...) log requests
    too; they are not the page's."""
    uri = page.resolve().as_uri()
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            params = message["params"]
            if params.get("documentURL") == uri or params["request"]["url"].startswith(
                ("http:", "https:", "ws:", "wss:", "ftp:")
            ):
                urls.append(params["request"]["url"])
    return [url for url in urls if url != uri]


def step(driver: Any) -> int:
    return int(driver.execute_script("return document.body.dataset.step"))


def fields(driver: Any, scope: Any, name: str) -> list[float]:
    """The numbers the panel shows under ``data-field=name``, read as floats."""
    return [float(e.text) for e in scope.find_elements(By.CSS_SELECTOR, f'[data-field="{name}"]')]


def close(shown: list[float], expected: list[Any]) -> bool:
    return len(shown) == len(expected) and all(
        math.isclose(a, float(b), rel_tol=1e-11, abs_tol=1e-12)
        for a, b in zip(shown, expected, strict=True)
    )


def check_panel(driver: Any, record: dict[str, Any]) -> None:
    """The panel shows the record's numbers (rounded to 12 digits, as bpcalc's tables)."""
    panel = driver.find_element(By.ID, "step-panel")
    heading = panel.find_element(By.ID, "step-heading").text
    assert f"({record['step']})" in heading
    assert record["node"] in panel.find_element(By.CSS_SELECTOR, ".name.node").text
    if record["phase"] == "forward":
        assert heading.startswith("Forward")
        assert close(fields(driver, panel, "input-value"), [i["value"] for i in record["inputs"]])
        assert close(fields(driver, panel, "value"), [record["value"]])
        return
    assert heading.startswith("Backward")
    assert close(fields(driver, panel, "dout"), [record["dout"]])
    boxes = panel.find_elements(By.CSS_SELECTOR, ".contribution")
    assert len(boxes) == len(record["contributions"])
    for box, c in zip(boxes, record["contributions"], strict=True):
        assert box.get_attribute("data-name") == c["name"]
        assert box.find_element(By.CSS_SELECTOR, ".name").text in (c["name"], f"({c['name']})")
        assert close(fields(driver, box, "term-dout"), [record["dout"]])
        assert close(fields(driver, box, "local"), [c["local"]])
        assert close(fields(driver, box, "amount"), [c["amount"]])
        assert c["derivative"] in box.text
        if c["of"] > 1:
            assert close(fields(driver, box, "running"), [c["total"]])
            assert f"contribution {c['contribution']} of {c['of']}" in box.text
            if c["previous"] is not None:
                assert close(fields(driver, box, "previous"), [c["previous"]])
            expected_total = [c["total"]] if c["contribution"] == c["of"] else []
            assert close(fields(driver, box, "total"), expected_total)


class TestAppleOrange:
    def test_every_step_by_keyboard_matches_trace(
        self, driver: Any, invoke: Invoke, tmp_path: Path
    ) -> None:
        """→ eight times: 4 forward and 4 backward steps, each panel with the numbers of
        `bpcalc trace -o json`; no console error and no request but the page itself."""
        page = write_page(invoke, tmp_path, "apple_orange")
        records = json.loads(invoke("trace", "apple_orange", "-o", "json").stdout)
        assert [r["phase"] for r in records] == ["forward"] * 4 + ["backward"] * 4
        open_page(driver, page)
        assert step(driver) == 0
        for number, record in enumerate(records, start=1):
            press(driver, Keys.ARROW_RIGHT)
            assert step(driver) == number
            check_panel(driver, record)
            active = driver.find_elements(By.CSS_SELECTOR, ".vertex.active")
            assert len(active) == 1
        press(driver, Keys.ARROW_RIGHT)  # past the end: stays at the last step
        assert step(driver) == 8
        grads = driver.find_element(By.ID, "input-grads")
        shown = {
            e.get_attribute("data-grad"): e.text
            for e in grads.find_elements(By.CSS_SELECTOR, "[data-grad]")
        }
        assert shown == {
            "apple": "2.2",
            "apple_num": "110",
            "orange": "3.3",
            "orange_num": "165",
            "tax": "650",
        }
        # Back through every step again, with ←.
        for number in range(7, -1, -1):
            press(driver, Keys.ARROW_LEFT)
            assert step(driver) == number
            if number:
                check_panel(driver, records[number - 1])
        assert errors(driver) == []
        assert requests(driver, page) == []
        assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0

    def test_the_edges_fill_in_as_the_steps_go(
        self, driver: Any, invoke: Invoke, tmp_path: Path
    ) -> None:
        """At the start only the inputs' values show; after the forward pass every value and
        no gradient; after the backward pass every gradient, in italic."""
        open_page(driver, write_page(invoke, tmp_path, "apple_orange"))

        def labels(kind: str) -> list[str]:
            return [
                e.text
                for e in driver.find_elements(By.CSS_SELECTOR, f".edge text.{kind}")
                if e.text
            ]

        assert sorted(labels("value")) == sorted(["100", "2", "150", "3", "1.1"])
        assert labels("grad") == []
        press(driver, "b")
        assert step(driver) == 5
        assert len(labels("value")) == 9
        assert labels("grad") == ["650", "1.1", "1"] or sorted(labels("grad")) == sorted(
            ["1.1", "650", "1"]
        )
        press(driver, Keys.END)
        assert step(driver) == 8
        assert sorted(labels("grad")) == sorted(
            ["2.2", "110", "3.3", "165", "1.1", "1.1", "1.1", "650", "1"]
        )
        style = driver.execute_script(
            "return getComputedStyle(document.querySelector('.edge text.grad')).fontStyle"
        )
        assert style == "italic"  # not marked by colour alone
        press(driver, Keys.HOME)
        assert step(driver) == 0
        assert errors(driver) == []

    def test_controls_work_from_the_keyboard_alone(
        self, driver: Any, invoke: Invoke, tmp_path: Path
    ) -> None:
        """Tab reaches the buttons (with a visible focus ring), Enter presses them, Space
        plays and pauses, the slider moves by arrow keys, and Tab on a node shows its op,
        value, gradient and shape."""
        open_page(driver, write_page(invoke, tmp_path, "apple_orange"))
        driver.execute_script("document.getElementById('btn-next').focus()")
        focused = driver.switch_to.active_element
        assert focused.get_attribute("id") == "btn-next"
        outline = driver.execute_script(
            "return getComputedStyle(document.activeElement).outlineStyle"
        )
        assert outline != "none"
        press(driver, Keys.ENTER)
        assert step(driver) == 1
        driver.execute_script("document.activeElement.blur()")
        press(driver, Keys.SPACE)  # play
        WebDriverWait(driver, 5).until(lambda d: step(d) >= 2)
        press(driver, Keys.SPACE)  # pause
        paused = step(driver)
        assert driver.find_element(By.ID, "btn-play").get_attribute("aria-pressed") == "false"
        driver.execute_script("document.getElementById('step-slider').focus()")
        press(driver, Keys.ARROW_RIGHT)
        assert step(driver) == paused + 1
        # Tab from the slider into the figure: the first node's details.
        for _ in range(10):
            press(driver, Keys.TAB)
            if driver.switch_to.active_element.get_attribute("data-vertex") is not None:
                break
        node = driver.switch_to.active_element
        assert node.get_attribute("data-vertex") is not None
        details = driver.find_element(By.ID, "details").text
        for word in ("name", "kind", "shape", "value", "gradient"):
            assert word in details
        # The node details follow the step: price's value appears at forward step 4.
        driver.execute_script("document.querySelector('.vertex[aria-label^=\"price:\"]').focus()")
        press(driver, Keys.HOME)
        assert "computed at forward step 4" in driver.find_element(By.ID, "details").text
        press(driver, Keys.END)
        details = driver.find_element(By.ID, "details").text
        assert "715" in details and "scalar" in details and "op mul" in details
        assert errors(driver) == []

    def test_a_screenshot(self, driver: Any, invoke: Invoke, tmp_path: Path) -> None:
        """A picture of the middle of the backward pass (for a person to look at)."""
        open_page(driver, write_page(invoke, tmp_path, "apple_orange"))
        press(driver, Keys.ARROW_RIGHT * 6)
        path = tmp_path / "apple_orange.png"
        assert driver.save_screenshot(str(path))
        assert path.stat().st_size > 10_000


class TestOtherGraphs:
    @pytest.mark.parametrize("example", sorted(p.stem for p in GRAPHS.glob("*.yaml")))
    def test_every_example_steps_without_errors(
        self, driver: Any, invoke: Invoke, tmp_path: Path, example: str
    ) -> None:
        """Each bundled example: every step renders its panel; no console error, no request."""
        page = write_page(invoke, tmp_path, example)
        records = json.loads(invoke("trace", example, "-o", "json").stdout)
        open_page(driver, page)
        for number, record in enumerate(records, start=1):
            press(driver, Keys.ARROW_RIGHT)
            assert step(driver) == number
            heading = driver.find_element(By.ID, "step-heading").text
            assert f"({record['step']})" in heading
            if all(isinstance(c["local"], float) for c in record.get("contributions", [])) and all(
                isinstance(i["value"], float) for i in record.get("inputs", [])
            ):
                check_panel(driver, record)
        # Tensors: their summaries open to every element.
        toggles = driver.find_elements(By.CSS_SELECTOR, "#step-panel details summary")
        for toggle in toggles[:2]:
            toggle.click()
        assert errors(driver) == []
        assert requests(driver, page) == []

    def test_running_sums_of_a_value_used_twice(
        self, driver: Any, invoke: Invoke, tmp_path: Path, write_graph: Any
    ) -> None:
        graph = str(write_graph(REUSE))
        records = json.loads(invoke("trace", graph, "-o", "json").stdout)
        open_page(driver, write_page(invoke, tmp_path, graph))
        for record in records:
            press(driver, Keys.ARROW_RIGHT)
            check_panel(driver, record)
        assert "running sum" in driver.find_element(By.ID, "step-panel").text or any(
            c["of"] > 1 for r in records for c in r.get("contributions", [])
        )
        assert errors(driver) == []

    def test_hostile_names_run_no_code(
        self, driver: Any, invoke: Invoke, tmp_path: Path, write_graph: Any
    ) -> None:
        """The graph's name and description are shown as text: no script of theirs runs and
        no element of theirs is made."""
        page = write_page(invoke, tmp_path, str(write_graph(HOSTILE)))
        open_page(driver, page)
        press(driver, Keys.END)
        assert driver.execute_script("return window.pwned === undefined")
        assert driver.execute_script("return document.querySelectorAll('img, b, i').length") == 0
        assert driver.find_element(By.TAG_NAME, "h1").text.startswith(
            "</script><script>window.pwned=1</script> — <img"
        )
        assert driver.title.startswith("</script><script>window.pwned=1</script>")
        assert errors(driver) == []
        assert requests(driver, page) == []

    def test_three_hundred_nodes_render_pan_and_zoom(
        self, driver: Any, invoke: Invoke, tmp_path: Path, write_graph: Any
    ) -> None:
        """A generated mesh of 300 op nodes: drawn, and the view pans (Shift+arrows, a drag)
        and zooms (+, -, the wheel); stepping brings the active node into view."""
        page = write_page(invoke, tmp_path, str(write_graph(big_graph(300))))
        open_page(driver, page)
        assert len(driver.find_elements(By.CSS_SELECTOR, ".vertex.op")) >= 300

        def view() -> list[float]:
            box = driver.execute_script(
                "return document.getElementById('figure').getAttribute('viewBox')"
            )
            return [float(n) for n in box.split()]

        before = view()
        ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ARROW_RIGHT).key_up(
            Keys.SHIFT
        ).perform()
        assert step(driver) == 0  # Shift+→ pans; it is not a step
        after = view()
        assert after[0] > before[0] and after[2:] == before[2:]
        press(driver, "+")
        zoomed = view()
        assert zoomed[2] < after[2]
        press(driver, "-", "-")
        assert view()[2] > zoomed[2]
        figure = driver.find_element(By.ID, "figure")
        moved = view()
        ActionChains(driver).move_to_element(figure).click_and_hold().move_by_offset(
            -120, -40
        ).release().perform()
        dragged = view()
        assert dragged[0] > moved[0] and dragged[1] > moved[1]
        ActionChains(driver).scroll_from_origin(
            ScrollOrigin.from_element(figure), 0, -200
        ).perform()
        assert view()[2] < dragged[2]
        press(driver, "0")  # fit: the whole drawing
        whole = view()
        width, height = driver.execute_script(
            "const d = JSON.parse(document.getElementById('bpcalc-data').textContent);"
            "return [d.width, d.height]"
        )
        assert whole[2] >= width - 1 or whole[3] >= height - 1
        press(driver, Keys.END)  # the last backward step: its node is in view
        x, y = driver.execute_script(
            "const v = document.querySelector('.vertex.active .halo');"
            "return [Number(v.getAttribute('x')), Number(v.getAttribute('y'))]"
        )
        box = view()
        assert box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]
        assert errors(driver) == []
        assert requests(driver, page) == []
