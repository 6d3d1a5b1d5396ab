"""The web page of ``reportupdater serve`` in a real headless Chromium (Debian's
chromium and chromium-driver, installed by .ci/setup-test-env), on the demo."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
WAIT = 30  # seconds: the most a page may take to draw on a loaded machine

# A canvas's pixels that are not transparent: uPlot draws lines, grid and axes.
PAINTED = """
const canvas = arguments[0];
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let painted = 0;
for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
return painted;
"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMEDRIVER.exists() or not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are needed; run `bash .ci/setup-test-env`, "
                    "which installs Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1400"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except WebDriverException as e:
        pytest.fail(f"headless Chromium does not start: {e}")
    yield driver
    driver.quit()


def open_page(browser, url: str) -> None:
    browser.get(url)
    wait_ready(browser)


def wait_ready(browser) -> None:
    WebDriverWait(browser, WAIT).until(
        lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")


def console_errors(browser) -> list[dict]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def messages(browser) -> list[str]:
    return [m.text for m in browser.find_elements(By.CSS_SELECTOR, "#messages .message")]


def chart(browser, column: str):
    return browser.find_element(By.CSS_SELECTOR, f'.chart[data-column="{column}"]')


def total_of(path: Path, column: str) -> int:
    rows = list(csv.DictReader(io.StringIO(path.read_text()), delimiter="\t"))
    return sum(int(row[column] or 0) for row in rows)  # empty cells are not drawn


def test_the_list_shows_every_report(browser, served_demo, tmp_path):
    browser.get_log("browser")  # start from an empty log
    open_page(browser, served_demo.url + "/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#reports tbody tr")
    assert [r.get_attribute("data-report") for r in rows] == [
        "toggles_by_editor", "weekly_toggles", "toggles_by_edit_count", "monthly_summary"]
    first = [c.text for c in rows[0].find_elements(By.TAG_NAME, "td")]
    assert first == ["toggles_by_editor", "sql", "days", "fresh", "2026-10-31", "0", "", ""]
    assert messages(browser) == []
    browser.save_screenshot(str(tmp_path / "list.png"))
    browser.find_element(By.ID, "filter").send_keys("toggles_by")
    shown = [r.get_attribute("data-report")
             for r in browser.find_elements(By.CSS_SELECTOR, "#reports tbody tr")]
    assert shown == ["toggles_by_editor", "toggles_by_edit_count"]
    assert console_errors(browser) == []


@pytest.mark.parametrize("report", ["toggles_by_editor", "weekly_toggles",
                                    "toggles_by_edit_count", "monthly_summary"])
def test_every_report_draws_a_chart(browser, served_demo, report, tmp_path):
    browser.get_log("browser")
    open_page(browser, f"{served_demo.url}/#/report/{report}")
    canvases = browser.find_elements(By.CSS_SELECTOR, "#charts canvas")
    assert canvases, "no chart"
    for canvas in canvases:
        assert browser.execute_script(PAINTED, canvas) > 1000
    assert browser.find_elements(By.CSS_SELECTOR, "#data tbody tr")
    assert browser.find_element(By.ID, "query").text.strip()
    assert messages(browser) == []
    assert console_errors(browser) == []
    browser.save_screenshot(str(tmp_path / f"{report}.png"))


def test_changing_the_explode_selector_changes_the_series(browser, served_demo, demo_output,
                                                          tmp_path):
    browser.get_log("browser")
    open_page(browser, f"{served_demo.url}/#/report/toggles_by_editor")
    folder = demo_output.output / "toggles_by_editor"
    toggles = chart(browser, "toggles")
    assert toggles.get_attribute("data-total") == str(total_of(folder / "enwiki.tsv", "toggles"))
    assert "wiki=enwiki" in toggles.text
    Select(browser.find_element(By.ID, "select-wiki")).select_by_value("dewiki")
    wait_ready(browser)
    toggles = chart(browser, "toggles")
    assert toggles.get_attribute("data-total") == str(total_of(folder / "dewiki.tsv", "toggles"))
    assert "wiki=dewiki" in toggles.text
    browser.save_screenshot(str(tmp_path / "dewiki.png"))
    Select(browser.find_element(By.ID, "select-wiki")).select_by_visible_text("(all)")
    wait_ready(browser)
    series = chart(browser, "toggles").get_attribute("data-series")
    assert "enwiki · wikitext_2010 · true" in series and "eswiki · wikitext_2017 · false" in series
    Select(browser.find_element(By.ID, "select-editor")).select_by_value("wikitext_2017")
    wait_ready(browser)
    series = chart(browser, "toggles").get_attribute("data-series")
    assert "wikitext_2010" not in series and "dewiki · true" in series
    assert console_errors(browser) == []


def test_a_broken_file_shows_a_message(browser, start_server, demo_output, tmp_path):
    output = tmp_path / "output"
    shutil.copytree(demo_output.output, output)
    broken = output / "weekly_toggles.tsv"
    broken.write_text("date\ttoggles\nnot a date\t3\n")
    server = start_server(demo_output.queries, output)
    open_page(browser, f"{server.url}/#/report/weekly_toggles")
    expected = (f"{broken}:2: first column 'not a date' is not a date in the format "
                "%Y-%m-%d of a weeks report; fix or move the file, nothing was overwritten")
    assert expected in messages(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "#charts canvas") == []
    browser.save_screenshot(str(tmp_path / "broken.png"))
