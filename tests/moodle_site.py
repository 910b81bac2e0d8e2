"""A real Moodle for the tests: its code, unpacked into the ignored .cache/moodle, with the plugin copied
in from the working tree the way an admin installs it.

The suite runs in two Moodle releases (RELEASES): 4.5.6, whose code sits at the root of its tree, and 5.1.3, whose
code sits under public/ below the root that holds config.php and Moodle's command-line scripts. Each has its own
code folders, databases, dataroots and dumps under .cache/moodle/<release>/. A release's code comes from
../shared/moodle/moodle-<release>.tar.xz, or from PROCTORPY_MOODLE_SOURCE (a Moodle checkout or a release tarball)
for the release of the same branch (4.5 or 5.1). Without either the tests that need Moodle fail and say so.
"""
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from nginx import Nginx, moodle_server

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "moodle_plugin" / "quizaccess_proctorpy"
SHARED_MOODLE = REPO.parent / "shared" / "moodle"
CACHE = REPO / ".cache" / "moodle"
TOOLING = SHARED_MOODLE / "tooling"
# Where Moodle's own tooling keeps node, node_modules, PHPUnit 11 and the code checker's standards between runs: a
# folder for each release, whose tools may run at the same time as another's.
TOOLING_CACHE = REPO / ".cache" / "moodle-tooling"
# The plugin's folder in Moodle's code (on 5.1+ below public/: see plugin_path).
PLUGIN_PATH = "mod/quiz/accessrule/proctorpy"
# Left out of the copy: what only the plugin's developers use, never part of what an admin installs.
NOT_INSTALLED = ("node_modules", ".phpunit.result.cache")
class MoodleUnavailable(RuntimeError):
    """No Moodle code could be found or unpacked."""


class Release:
    """A Moodle release the suite runs in, and where its code, data and databases go: nothing of one release is
    shared with another (they may run at once, on two workers)."""

    def __init__(self, name):
        self.name = name
        major, minor = name.split(".")[:2]
        # Moodle's $branch: 405 for 4.5.x, 501 for 5.1.x.
        self.branch = f"{major}{int(minor):02d}"
        self.cache = CACHE / name
        # The web sites' code, which the journeys' sites hard-link (moodle_journey.private_moodle).
        self.www = self.cache / "www"
        # A second copy of the code for the developer tools (PHPUnit, code checker, grunt): always the working
        # tree's plugin, whatever version of it a web site has installed.
        self.code = self.cache / "code"
        self.dumps = self.cache / "dumps"
        self.phpunit_dataroot = self.cache / "phpunit_dataroot"
        self.tooling_cache = TOOLING_CACHE / name

    def database_name(self, kind=""):
        # One database per checkout and release, so a fresh clone beside this one never shares a site with it.
        suffix = f"_{kind}" if kind else ""
        checkout = hashlib.sha256(str(REPO).encode()).hexdigest()[:8]
        return f"proctorpy_moodle{self.name.replace('.', '')}{suffix}_{checkout}"

    def source(self):
        """The code of this release: PROCTORPY_MOODLE_SOURCE when it is of this branch, else the team's tarball."""
        named = os.environ.get("PROCTORPY_MOODLE_SOURCE")
        if named:
            source = Path(named).expanduser().resolve()
            if not source.exists():
                raise MoodleUnavailable(f"PROCTORPY_MOODLE_SOURCE={named} does not exist")
            if source_branch(source) == self.branch:
                return source
        tarball = SHARED_MOODLE / f"moodle-{self.name}.tar.xz"
        if not tarball.is_file():
            raise MoodleUnavailable(
                f"no Moodle {self.name} to test against: {SHARED_MOODLE} has no moodle-{self.name}.tar.xz; set "
                f"PROCTORPY_MOODLE_SOURCE to a Moodle {self.name.rsplit('.', 1)[0]} checkout or release tarball")
        return tarball


# The releases the suite runs in, oldest first; version.php's $plugin->supported claims exactly these.
RELEASES = {name: Release(name) for name in ("4.5.6", "5.1.3")}
# The release a journey runs in unless it is marked to run in every one (tests/conftest.py).
FIRST_RELEASE = RELEASES["4.5.6"]
BRANCH = re.compile(r"^\$branch\s*=\s*'(\d+)'", re.M)


def source_branch(source):
    """The $branch of a Moodle checkout or release tarball (its version.php, or public/version.php on 5.1+)."""
    if source.is_dir():
        found = [p for p in (source / "version.php", source / "public" / "version.php") if p.is_file()]
        text = found[0].read_text() if found else ""
    else:
        text = subprocess.run(["tar", "xOf", str(source), "--wildcards", "--no-wildcards-match-slash",
                               "*/version.php", "*/public/version.php"], capture_output=True, text=True).stdout
    branch = BRANCH.search(text)
    if not branch:
        raise MoodleUnavailable(f"{source} is not a Moodle checkout or release tarball (no version.php with a $branch)")
    return branch.group(1)


def public_folder(www):
    """Where Moodle's code is: public/ on 5.1+ (MDL-83424), the root itself before."""
    www = Path(www)
    return www / "public" if (www / "public" / "version.php").exists() else www


def plugin_path(www):
    """The plugin's folder, relative to the Moodle root www."""
    return public_folder(www).relative_to(www).joinpath(PLUGIN_PATH).as_posix()


def unpack_moodle(release, www=None):
    """The release's code in www (its release.www unless told), unpacked (or copied) once per source; returns www."""
    www = Path(www or release.www)
    source = release.source()
    stamp = www.with_name(www.name + "-source.txt")
    wanted = f"{source} {source.stat().st_mtime_ns}"
    if (public_folder(www) / "version.php").exists() and stamp.exists() and stamp.read_text() == wanted:
        return www
    # The stamp goes first: a run stopped while the old tree is removed must not find it whole next time.
    stamp.unlink(missing_ok=True)
    shutil.rmtree(www, ignore_errors=True)
    www.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, www, symlinks=True, ignore=shutil.ignore_patterns(".git", "config.php", "node_modules"))
        # 5.1's public/config.php only leads to the root's: it belongs to the code.
        if (source / "public" / "config.php").exists():
            shutil.copy2(source / "public" / "config.php", www / "public" / "config.php")
    else:
        scratch = www.with_name("unpacking")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        subprocess.run(["tar", "xf", str(source), "-C", str(scratch)], check=True)
        roots = [p.parent for p in scratch.glob("*/version.php")] + [p.parent.parent for p in
                                                                     scratch.glob("*/public/version.php")]
        if len(roots) != 1:
            raise MoodleUnavailable(f"{source} does not unpack to one Moodle folder")
        roots[0].rename(www)
        shutil.rmtree(scratch)
    stamp.write_text(wanted)
    return www


def copy_plugin(www, source=PLUGIN):
    """Copy the plugin into Moodle as an admin does (a copy, not a link); returns where it went."""
    target = Path(www) / plugin_path(www)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*NOT_INSTALLED))
    return target


def tooling_env(release):
    """The environment for ../shared/moodle/tooling scripts run on a release: their caches go to an ignored folder."""
    release.tooling_cache.mkdir(parents=True, exist_ok=True)
    return php_env({**os.environ, "MOODLE_TOOLING_CACHE": str(release.tooling_cache)})


# The site: PostgreSQL, php-fpm and nginx from Debian, Moodle's data in .cache/moodle.
WEB_USER = "www-data"
ADMIN_PASSWORD = "Admin-pass-1"
PG = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
# Moodle 4.5 checks max_input_vars, on the command line too (the PHPUnit site's install).
PHP_INI = {"max_input_vars": "5000", "memory_limit": "512M"}
PHP_INI_DIR = CACHE / "php.d"


def php_env(env=None):
    """The environment for Moodle's PHP on the command line: Debian's ini files, then PHP_INI."""
    PHP_INI_DIR.mkdir(parents=True, exist_ok=True)
    (PHP_INI_DIR / "moodle.ini").write_text("".join(f"{k} = {v}\n" for k, v in PHP_INI.items()))
    # A leading ':' keeps the default scan folder and adds this one after it.
    return {**(env or os.environ), "PHP_INI_SCAN_DIR": f":{PHP_INI_DIR}"}


def _run(command, what, **kwargs):
    """Run a command of the site's set-up; a failure says which step and shows its output."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise MoodleUnavailable(f"{what} failed (exit {result.returncode}): {' '.join(map(str, command))}\n"
                                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout


class MoodleSite:
    """One Moodle site of a release on PostgreSQL behind php-fpm and nginx on a loopback port; www is its root
    (the folder with config.php).

    A second site beside the first (the upgrade's) has a `name`: its own database, moodledata and run folder."""

    def __init__(self, www, release, port=None, name=""):
        self.www = Path(www)
        self.release = release
        suffix = f"_{name}" if name else ""
        self.dbname = release.database_name(name)
        self.phpunit_dbname = release.database_name("phpunit")
        self.dataroot = release.cache / f"moodledata{suffix}"
        self.run = release.cache / f"run{suffix}"
        self.port = port
        self.url = f"http://127.0.0.1:{port}" if port else "http://127.0.0.1"
        self.nginx = None

    # --- commands -------------------------------------------------------------------------
    def php(self, *args, check=True, input=None, timeout=900, env=None):
        """`php` as the web server's user in the Moodle root, as Moodle's CLI scripts must run."""
        command = ["runuser", "-u", WEB_USER, "--", "php", *map(str, args)]
        result = subprocess.run(command, cwd=self.www, capture_output=True, text=True, input=input, timeout=timeout,
                                env=php_env({**os.environ, **(env or {})}))
        if check and result.returncode != 0:
            raise MoodleUnavailable(f"php {' '.join(map(str, args))} exited {result.returncode}:\n"
                                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result

    def psql(self, sql, dbname="postgres"):
        return _run(["psql", *PG, "-d", dbname, "-v", "ON_ERROR_STOP=1", "-Atc", sql], "psql")

    # --- install --------------------------------------------------------------------------
    def check_postgres(self):
        try:
            self.psql("select 1")
        except (MoodleUnavailable, FileNotFoundError) as error:
            raise MoodleUnavailable(
                "PostgreSQL does not answer on 127.0.0.1:5432 as user postgres (trust authentication): "
                f"Moodle's tests need it.\n{error}") from error

    def core_key(self):
        digest = hashlib.sha256((public_folder(self.www) / "version.php").read_bytes())
        digest.update(_run(["php", "-r", "echo PHP_VERSION;"], "php").encode())
        return digest.hexdigest()[:16]

    def write_config(self):
        config = f"""<?php  // Moodle configuration file of the proctorpy test site.
unset($CFG);
global $CFG;
$CFG = new stdClass();
$CFG->dbtype = 'pgsql';
$CFG->dblibrary = 'native';
$CFG->dbhost = '127.0.0.1';
$CFG->dbname = '{self.dbname}';
$CFG->dbuser = 'postgres';
$CFG->dbpass = '';
$CFG->prefix = 'mdl_';
$CFG->dboptions = ['dbpersist' => 0, 'dbport' => 5432, 'dbsocket' => ''];
$CFG->wwwroot = '{self.url}';
$CFG->dataroot = '{self.dataroot}';
$CFG->admin = 'admin';
$CFG->directorypermissions = 02777;
// Every notice shows, so a test sees any debugging output the plugin causes.
$CFG->debug = 32767;
$CFG->debugdisplay = 1;
// No mail server here.
$CFG->noemailever = true;
$CFG->noreplyaddress = 'noreply@example.invalid';
require_once(__DIR__ . '/lib/setup.php');
"""
        path = self.www / "config.php"
        text = path.read_text() if path.exists() else ""
        # setup_phpunit.sh adds its block to config.php: keep it when the rest is unchanged.
        block = ""
        if "// >>> moodle-tooling phpunit" in text:
            block = text[text.index("// >>> moodle-tooling phpunit"):text.index("// <<< moodle-tooling phpunit")]
            block += "// <<< moodle-tooling phpunit\n"
            config = config.replace("require_once(__DIR__", block + "require_once(__DIR__")
        path.write_text(config)
        os.chmod(path, 0o644)

    def install(self):
        """A fresh site: from the cached dump of a core install when there is one, else installed and dumped."""
        self.check_postgres()
        self.www.chmod(0o755)
        key = self.core_key()
        dumps = self.release.dumps
        dump, files = dumps / f"core-{key}.dump", dumps / f"core-{key}-moodledata.tar"
        self.psql(f'drop database if exists "{self.dbname}" with (force)')
        self.psql(f"create database \"{self.dbname}\" encoding 'UTF8' template template0")
        shutil.rmtree(self.dataroot, ignore_errors=True)
        self.dataroot.mkdir(parents=True)
        shutil.chown(self.dataroot, WEB_USER, WEB_USER)
        self.write_config()
        shutil.rmtree(self.www / plugin_path(self.www), ignore_errors=True)
        if dump.exists() and files.exists():
            _run(["pg_restore", *PG, "-d", self.dbname, "--no-owner", str(dump)], "restoring the Moodle database")
            _run(["tar", "xf", str(files), "-C", str(self.dataroot)], "restoring moodledata")
            _run(["chown", "-R", f"{WEB_USER}:{WEB_USER}", str(self.dataroot)], "chown moodledata")
            self.php("admin/cli/purge_caches.php")
            return "restored"
        self.php("admin/cli/install_database.php", "--agree-license", f"--adminpass={ADMIN_PASSWORD}",
                 "--adminemail=admin@example.invalid", "--fullname=proctorpy test site", "--shortname=proctorpy")
        dumps.mkdir(parents=True, exist_ok=True)
        _run(["pg_dump", *PG, "-Fc", "-f", str(dump), self.dbname], "dumping the Moodle database")
        _run(["tar", "cf", str(files), "-C", str(self.dataroot), "filedir"], "saving moodledata")
        return "installed"

    def install_plugin(self, source=PLUGIN):
        """Copy the plugin in and run Moodle's upgrade, as an admin installs or upgrades it."""
        copy_plugin(self.www, source)
        result = self.php("admin/cli/upgrade.php", "--non-interactive", check=False)
        if result.returncode != 0:
            raise AssertionError(f"admin/cli/upgrade.php exited {result.returncode}:\n{result.stdout[-6000:]}"
                                 f"\n{result.stderr[-3000:]}")
        self.php("admin/cli/purge_caches.php")
        self.reload_php()
        return result.stdout

    def set_config(self, name, value, plugin="quizaccess_proctorpy"):
        args = ["admin/cli/cfg.php", f"--name={name}", f"--set={value}"]
        if plugin:
            args.append(f"--component={plugin}")
        self.php(*args)

    def cron(self):
        return self.php("admin/cli/cron.php", "--keep-alive=0").stdout

    # --- web server -----------------------------------------------------------------------
    @property
    def fpm_log(self):
        return self.run / "logs" / "php-fpm.log"

    @property
    def php_errors(self):
        return self.run / "logs" / "php-errors.log"

    @property
    def access_log(self):
        return self.run / "logs" / "nginx-access.log"

    def start_web(self, extra_locations=""):
        """php-fpm and nginx of our own (own configs, pid files and sockets), serving self.www."""
        self.stop_web()
        (self.run / "logs").mkdir(parents=True, exist_ok=True)
        fpm_conf = self.run / "php-fpm.conf"
        ini = "\n".join(f"php_admin_value[{k}] = {v}" for k, v in PHP_INI.items())
        fpm_conf.write_text(f"""[global]
pid = {self.run}/php-fpm.pid
error_log = {self.fpm_log}
[moodle]
user = {WEB_USER}
group = {WEB_USER}
listen = {self.run}/php-fpm.sock
listen.owner = {WEB_USER}
listen.group = {WEB_USER}
pm = static
pm.max_children = 6
catch_workers_output = yes
{ini}
php_admin_value[error_log] = {self.php_errors}
php_admin_flag[log_errors] = on
""")
        fpm = sorted(Path("/usr/sbin").glob("php-fpm*"))
        if not fpm:
            raise MoodleUnavailable("php-fpm is not installed (Debian: php-fpm); `make test` installs it")
        _run([str(fpm[-1]), "-y", str(fpm_conf)], "starting php-fpm")
        server = moodle_server(self.port, public_folder(self.www), self.run / "php-fpm.sock", extra_locations,
                               router=public_folder(self.www) != self.www)
        self.nginx = Nginx(self.run, server, [self.port], user=WEB_USER, workers=2, access_log=True).start()

    def reload_php(self):
        # php-fpm caches compiled files (opcache): a reload makes a copied plugin the code that runs.
        pid = self.run / "php-fpm.pid"
        if pid.exists():
            subprocess.run(["kill", "-USR2", pid.read_text().strip()], check=False)
            if self.nginx:
                self.wait_for_php()

    def wait_for_php(self, timeout=60):
        """Wait until the site serves a page again: nginx answers 502 while php-fpm's workers restart."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/login/index.php", timeout=10) as answer:
                    last = f"HTTP {answer.status}"
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError) as error:
                last = error
            if time.monotonic() > deadline:
                raise MoodleUnavailable(f"the site at {self.url} serves no page since php-fpm's reload: {last}")
            time.sleep(0.2)

    def stop_web(self):
        if self.nginx:
            self.nginx.stop()
        # php-fpm runs as a daemon: its pid file says which (one an earlier run left behind too).
        pid = self.run / "php-fpm.pid"
        if pid.exists():
            subprocess.run(["kill", "-QUIT", pid.read_text().strip()], capture_output=True, check=False)
            for _ in range(100):
                if not pid.exists():
                    break
                time.sleep(0.05)
            pid.unlink(missing_ok=True)

    # --- Moodle's PHPUnit -------------------------------------------------------------------
    @contextlib.contextmanager
    def phpunit_lock(self):
        """One user of the release's PHPUnit test site at a time: each run resets its database."""
        self.release.cache.mkdir(parents=True, exist_ok=True)
        with open(self.release.cache / "phpunit.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def setup_phpunit(self):
        """Moodle's PHPUnit test site in its own database, with the working tree's plugin; kept between runs
        and reinstalled by Moodle's own check when any plugin's version changes."""
        self.check_postgres()
        with self.phpunit_lock():
            unpack_moodle(self.release, self.www)
            if not (self.www / "config.php").exists():
                self.write_config()
            # Moodle's bootstrap refuses a config whose site dataroot is missing, even for PHPUnit's own site:
            # on a fresh machine no site may have been installed yet.
            if not self.dataroot.exists():
                self.dataroot.mkdir(parents=True)
                shutil.chown(self.dataroot, WEB_USER, WEB_USER)
            if not self.release.phpunit_dataroot.exists():
                # A test site's database without its dataroot cannot be reused.
                self.psql(f'drop database if exists "{self.phpunit_dbname}" with (force)')
            copy_plugin(self.www)
            _run(["bash", str(TOOLING / "phpunit" / "setup_phpunit.sh"), "--moodle", str(self.www), "--no-apt",
                  "--dataroot", str(self.release.phpunit_dataroot), "--dbname", self.phpunit_dbname, "--create-db"],
                 "setting up Moodle's PHPUnit", env=tooling_env(self.release))

    def run_phpunit(self, *args, env=None):
        """The plugin's suite (or phpunit arguments) in Moodle's PHPUnit; returns (exit code, output)."""
        with self.phpunit_lock():
            result = subprocess.run(
                ["bash", str(TOOLING / "phpunit" / "run_plugin_tests.sh"), "--moodle", str(self.www),
                 *(args or ["quizaccess_proctorpy"])],
                capture_output=True, text=True, env={**tooling_env(self.release), **(env or {})}, timeout=1800)
        return result.returncode, result.stdout + result.stderr
