"""nginx for the tests: one nginx.conf written from parameters, in a folder of its own, started and stopped.

The Moodle site serves PHP through php-fpm (`moodle_server`); the deploy tests put the shipped snippets of
deploy/ in front of live sidecars (`snippet` reads one and points it at the test's ports).
"""
import os
import signal
import shutil
import socket
import subprocess
from pathlib import Path

from processes import wait_for

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REPO = Path(__file__).resolve().parents[1]


def snippet(name, replacements=None):
    """A shipped deploy/ snippet's text with the test's addresses in place of the shipped ones, each of which
    must be there (a renamed address in the snippet fails here, not as a puzzling refusal later)."""
    text = (REPO / "deploy" / name).read_text()
    for original, here in (replacements or {}).items():
        assert original in text, f"deploy/{name} no longer says {original!r}"
        text = text.replace(original, here)
    return text


def moodle_server(port, root, fastcgi_socket, extra="", router=False):
    """The server block of a Moodle site: its PHP through php-fpm's socket, its dot files and vendor code hidden.

    root is the folder of Moodle's code: on 5.1+ its public/, where config.php's and vendor/'s real files are out of
    reach, and where what is not a file goes to Moodle's router (`router`, r.php)."""
    routed = "location / { try_files $uri $uri/ /r.php; }" if router else ""
    return f"""
    server {{
        listen 127.0.0.1:{port};
        server_name 127.0.0.1;
        root {root};
        index index.php;
        location ~ /\\. {{ deny all; }}
        location ~ ^/(vendor|node_modules|config\\.php) {{ deny all; }}
        {routed}
        location ~ [^/]\\.php(/|$) {{
            fastcgi_split_path_info ^(.+\\.php)(/.+)$;
            fastcgi_index index.php;
            fastcgi_pass unix:{fastcgi_socket};
            include /etc/nginx/fastcgi_params;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_read_timeout 120s;
        }}
{extra}
    }}
"""


def accepts(port):
    """Whether something accepts connections on the loopback port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


class Nginx:
    """nginx in the foreground with its config, pid file, logs and temporary files in `folder`.

    `servers` is the http block's content (server blocks, includes) and `ports` the ports it listens on. With a `user`, a master process runs
    `workers` workers as that user (php-fpm's socket belongs to it); without, one process does everything as
    the test's own user, which can read the test's temporary folders."""

    def __init__(self, folder, servers, ports, user=None, workers=1, access_log=False):
        self.folder = Path(folder)
        self.ports = ports
        self.pid_file = self.folder / "nginx.pid"
        self.access_log = self.folder / "logs" / "nginx-access.log"
        self.error_log = self.folder / "logs" / "nginx-error.log"
        processes = f"user {user};\nworker_processes {workers};" if user else "master_process off;"
        self.conf = f"""daemon off;
{processes}
pid {self.pid_file};
error_log {self.error_log};
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {self.access_log if access_log else "off"};
    client_body_temp_path {self.folder}/client_body;
    proxy_temp_path {self.folder}/proxy;
    fastcgi_temp_path {self.folder}/fastcgi;
    uwsgi_temp_path {self.folder}/uwsgi;
    scgi_temp_path {self.folder}/scgi;
    client_max_body_size 64m;
{servers}
}}
"""
        self.process = None

    def start(self):
        """Check the config with `nginx -t`, start nginx, and return once it accepts connections on its ports."""
        assert Path(NGINX).exists(), "nginx is not installed (Debian: nginx-light); `make test` installs it"
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        self.stop_leftover()
        (self.folder / "nginx.conf").write_text(self.conf)
        command = [NGINX, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.process.poll() is not None or all(map(accepts, self.ports)), 10, "nginx to listen")
        assert self.process.poll() is None, self.error_log.read_text()[-3000:]
        return self

    def stop_leftover(self):
        # An nginx of an earlier run that was killed before its teardown still holds this folder's pid file.
        if self.pid_file.exists() and self.process is None:
            try:
                os.kill(int(self.pid_file.read_text()), signal.SIGQUIT)
            except (ValueError, ProcessLookupError):
                self.pid_file.unlink()
            wait_for(lambda: not self.pid_file.exists(), 10, "the earlier nginx to stop")

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
