"""More than one machine: two web nodes and two analysis workers, each with an empty folder of its
own, sharing one PostgreSQL database and one SeaweedFS bucket, as separate hosts would.

Camshots posted to either node are analysed once each by one of the workers; either node's
reports, images and console see all of them; a web node and a worker SIGKILLed under load lose no
acknowledged camshot, and once `proctorpy repair` has run no object lacks its row or row its object.
"""
import os
import secrets
import signal
import subprocess
import sys
import time

import requests

import nginx
from conftest import (
    SECRET, IngestLoad, LiveSidecar, attempt_fields, face_bytes, free_port, png_bytes, postgresql_database,
    settings_env, stored_keys,
)
from processes import stop_group, wait_for
from sidecar import db
from sidecar.client import SidecarClient
from sidecar.signing import make_token

PHOTOS = ["kit_harington/john2.jpeg", "rose_leslie/img2.jpg"]


class Worker:
    """`proctorpy worker` as on a host of its own: one process, its own empty data dir."""

    def __init__(self, data_dir, env):
        self.data_dir = data_dir
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self.env = {**os.environ, "PROCTORPY_SECRET": SECRET, "PROCTORPY_STORAGE_DATA_DIR": str(data_dir), **env}
        self.process = None

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "sidecar.cli", "worker", "--processes", "1"],
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        stop_group(self.process, timeout=30)


def query(url, sql, params=()):
    database = db.connect(url)
    try:
        return database.execute(sql, params).fetchall()
    finally:
        database.close()


def all_analysed(url):
    return query(url, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")[0][0] == 0


def sso(node):
    """A console session on node, signed in through the single sign-on link Moodle makes."""
    session = requests.Session()
    token = make_token(SECRET, {"p": "sso", "uid": 2, "name": "Admin User", "exp": int(time.time()) + 60,
                                "n": f"{time.time_ns():x}"})
    assert session.get(f"{node.url}/console/sso?token={token}").status_code == 200
    return session


class LoadBalancer:
    """deploy/nginx-nodes.conf in front of the web nodes, on a loopback port."""

    def __init__(self, folder, nodes):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        balancer = nginx.snippet("nginx-nodes.conf", {"10.0.0.11:8765": f"127.0.0.1:{nodes[0].port}",
                                                      "10.0.0.12:8765": f"127.0.0.1:{nodes[1].port}",
                                                      "listen 10.0.0.10:8765;": f"listen 127.0.0.1:{self.port};"})
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "nodes.conf").write_text(balancer)
        self.server = nginx.Nginx(folder, f"include {folder}/nodes.conf;", [self.port])

    def start(self):
        self.server.start()
        wait_for(lambda: requests_ok(self.url + "/healthz"), 30, "the nodes' health through nginx")
        return self

    def stop(self):
        self.server.stop()


def requests_ok(url):
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def uploads_logged(node):
    """How many camshot uploads a node's request log shows it answered."""
    return node.log.read_text().count('"path":"/api/v1/camshots"')


class Cluster:
    def __init__(self, tmp_path, seaweedfs, database_url):
        self.database_url = database_url
        # A prefix of the cluster's own: another cluster's database is another installation, which a node
        # refuses to share a prefix with.
        self.env = settings_env({"database.url": database_url, **seaweedfs.settings(f"nodes-{secrets.token_hex(6)}/")})
        self.nodes = [LiveSidecar(tmp_path / f"web{i}", env=self.env) for i in (1, 2)]
        self.workers = [Worker(tmp_path / f"worker{i}", self.env) for i in (1, 2)]

    def stop(self):
        for part in self.nodes + self.workers:
            part.stop()


def test_two_web_nodes_and_two_workers_share_one_database_and_one_bucket(tmp_path, seaweedfs):
    with postgresql_database() as url:
        cluster = Cluster(tmp_path, seaweedfs, url)
        try:
            web1, web2 = (node.start() for node in cluster.nodes)
            posted = {}
            for attempt_id, node in ((1, web1), (2, web2)):
                node.client.put_attempt(attempt_id, **attempt_fields(attempt_id, user_id=attempt_id + 6))
            for n in range(40):
                attempt_id, node = (1, web1) if n % 2 else (2, web2)
                _, body = node.client.post_camshot(attempt_id, attempt_id + 6, int(time.time() * 1000),
                                                   face_bytes(PHOTOS[n % 2], 320), f"s{n}")
                posted[body["id"]] = attempt_id
            for worker in cluster.workers:
                worker.start()
            wait_for(lambda: all_analysed(url), 300, "the two workers to analyse the 40 camshots")

            jobs = query(url, "SELECT camshot_id, state, tries, worker FROM jobs")
            assert sorted(row[0] for row in jobs) == sorted(posted), "a camshot without its job, or a job twice"
            assert {row[1] for row in jobs} == {"done"}
            assert {row[2] for row in jobs} == {1}, "a camshot was analysed more than once"
            assert len({row[3] for row in jobs}) == 2, f"both workers took jobs: {sorted({row[3] for row in jobs})}"

            # Either node reads what the other stored: reports, images (from the bucket: its folder is empty), console.
            for node in (web1, web2):
                for attempt_id in (1, 2):
                    detail = node.client.get_attempt(attempt_id)
                    assert len(detail["shots"]) == 20
                    assert all(shot["status"] != "pending" for shot in detail["shots"]), detail["shots"]
                    assert detail["score"] is not None
                    report = node.client.request("GET", f"/api/v1/attempts/{attempt_id}/report")[1].decode()
                    assert report.count('alt="Camshot at') == 20
                for camshot_id in posted:
                    status, image = node.client.request("GET", f"/api/v1/camshots/{camshot_id}/image?size=thumb")
                    assert status == 200 and image.startswith(b"\x89PNG")
                page = sso(node).get(f"{node.url}/console/quizzes/11")
                assert page.status_code == 200 and "Ada Lovelace" in page.text
            assert not list((tmp_path / "web1" / "images").glob("**/*.png"))

            # Through deploy/nginx-nodes.conf, uploads reach both nodes, and go on when one is gone.
            balancer = LoadBalancer(tmp_path / "nginx", cluster.nodes).start()
            try:
                through = SidecarClient(balancer.url, SECRET)
                before = [uploads_logged(node) for node in (web1, web2)]
                for n in range(20):
                    assert through.post_camshot(1, 7, int(time.time() * 1000), png_bytes(), f"lb{n}")[0] == 201
                assert all(uploads_logged(node) > count for node, count in zip((web1, web2), before))
                os.killpg(web1.process.pid, signal.SIGKILL)
                web1.process.wait()
                # Its workers may hold the listening socket a moment after the master is reaped, and take a
                # connection they will never answer.
                wait_for(lambda: not nginx.accepts(web1.port), 30, "the killed node's port to refuse connections")
                for n in range(20, 30):
                    assert through.post_camshot(1, 7, int(time.time() * 1000), png_bytes(), f"lb{n}")[0] == 201
                stored = {row[0] for row in query(url, "SELECT client_shot_id FROM camshots WHERE attempt_id = 1")}
                assert {f"lb{n}" for n in range(30)} <= stored
            finally:
                balancer.stop()
        finally:
            cluster.stop()


def test_sigkill_of_a_web_node_and_a_worker_under_load_loses_no_acknowledged_camshot(tmp_path, seaweedfs):
    with postgresql_database() as url:
        cluster = Cluster(tmp_path, seaweedfs, url)
        # A killed worker's job goes back to the queue when its lease ends: short here, to finish soon.
        for worker in cluster.workers:
            worker.env["PROCTORPY_ANALYSIS_LEASE_SECONDS"] = "5"
        try:
            web1, web2 = (node.start() for node in cluster.nodes)
            web1.client.put_attempt(1, **attempt_fields(1))
            web1.client.put_attempt(2, **attempt_fields(2, user_id=8))
            worker1, worker2 = (worker.start() for worker in cluster.workers)
            with IngestLoad(web1.client, attempt_id=1, user_id=7) as load1, \
                    IngestLoad(web2.client, attempt_id=2, user_id=8) as load2:
                wait_for(lambda: len(load1.snapshot()) >= 20 and len(load2.snapshot()) >= 20, 120,
                         "both nodes to acknowledge camshots")
                wait_for(lambda: query(url, "SELECT count(*) FROM jobs WHERE state = 'done'")[0][0] >= 5, 120,
                         "the workers to analyse some")
                worker1.kill()
                os.killpg(web1.process.pid, signal.SIGKILL)
                web1.process.wait()
                before = len(load2.snapshot())
                wait_for(lambda: len(load2.snapshot()) >= before + 20, 120, "the other node to go on acknowledging")
                web1.start()
                worker1.start()
                before = len(load1.snapshot())
                wait_for(lambda: len(load1.snapshot()) >= before + 20, 120, "the restarted node to acknowledge")
            acknowledged = {**load1.snapshot(), **load2.snapshot()}
            wait_for(lambda: all_analysed(url), 600, "the queue to drain after the kills")

            rows = dict(query(url, "SELECT id, path FROM camshots"))
            lost = [camshot_id for camshot_id in acknowledged.values() if camshot_id not in rows]
            assert not lost, f"{len(lost)} acknowledged camshot(s) lost"
            assert {state for (state,) in query(url, "SELECT state FROM jobs")} == {"done"}
            assert len(query(url, "SELECT camshot_id FROM jobs")) == len(rows)

            repair = subprocess.run([sys.executable, "-m", "sidecar.cli", "repair", "--grace", "0"],
                                    env=web2.env, capture_output=True, text=True, timeout=300)
            assert repair.returncode == 0, repair.stderr
            assert stored_keys(web2.images) == sorted(rows.values()), "an object without its row or a row without its object"
            unreadable = query(url, "SELECT count(*) FROM camshots WHERE status = 'unreadable'")[0][0]
            assert unreadable == 0, "a row's object was lost"
        finally:
            cluster.stop()
