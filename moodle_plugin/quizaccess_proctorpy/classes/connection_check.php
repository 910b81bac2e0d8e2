<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

/**
 * Diagnosis behind the Test connection button.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * Calls the sidecar unsigned, then signed, and names the first problem found.
 *
 * The outcome is a problem code (a lang string `connection_<code>`) and the values that string
 * needs; `ok` when everything works.
 */
class connection_check {
    /** API version this plugin speaks. */
    const API_VERSION = 'v1';

    /** Largest clock difference (seconds) the sidecar accepts. */
    const MAX_SKEW = 300;

    /** Outcomes of the public path check, as lang strings `directcheck_<code>`. */
    const DIRECT_PROBLEMS = ['ok', 'unreachable', 'blocked', 'notsidecar', 'noapi'];

    /** @var sidecar_client the client under test */
    private $client;

    /**
     * A check of one client.
     *
     * @param sidecar_client $client configured client
     */
    public function __construct(sidecar_client $client) {
        $this->client = $client;
    }

    /**
     * The sentence that tells the admin an outcome, as HTML.
     *
     * Whatever answers at the configured URL chooses the version and message it reports: they are
     * shown as text, never as markup.
     *
     * @param string $prefix lang string prefix: 'connection_' or 'directcheck_'
     * @param array $result an outcome of run() or check_public_path()
     * @return string HTML
     */
    public static function message(string $prefix, array $result): string {
        $values = array_map(fn($value) => s((string) $value), $result['details']);
        return get_string($prefix . $result['problem'], 'quizaccess_proctorpy', (object) $values);
    }

    /**
     * Run the check.
     *
     * @param int|null $now unix seconds of this host, now when null
     * @return array ['problem' => code, 'details' => array of values for the message]
     */
    public function run(?int $now = null): array {
        $now = $now ?? time();
        $details = ['url' => $this->client->base_url()];
        try {
            $health = $this->client->healthz();
        } catch (sidecar_exception $e) {
            return ['problem' => $e->problem === 'blocked' ? 'blocked' : 'unreachable',
                'details' => $details + ['message' => $e->getMessage()]];
        }
        $status = $health->json();
        if (!$health->ok() || ($status['status'] ?? null) !== 'ok') {
            return ['problem' => 'notsidecar', 'details' => $details + ['status' => $health->status]];
        }
        $details['version'] = (string) ($status['version'] ?? '?');
        $details['release'] = self::plugin_release();
        $details['api'] = (string) ($status['api'] ?? '?');
        if ($details['api'] !== self::API_VERSION) {
            return ['problem' => 'versionmismatch', 'details' => $details + ['expected' => self::API_VERSION]];
        }
        try {
            $ping = $this->client->ping();
        } catch (sidecar_exception $e) {
            return ['problem' => 'unreachable', 'details' => $details + ['message' => $e->getMessage()]];
        }
        $answer = $ping->json() ?? [];
        if ($ping->ok() && !empty($answer['ok'])) {
            $skew = isset($answer['time']) ? (int) $answer['time'] - $now : 0;
            if (abs($skew) > self::MAX_SKEW) {
                return ['problem' => 'clockskew', 'details' => $details + ['skew' => $skew,
                    'message' => "The sidecar's clock is " . $skew . " s from Moodle's."]];
            }
            return ['problem' => 'ok', 'details' => $details + ['skew' => $skew]];
        }
        $message = (string) ($answer['message'] ?? ('HTTP ' . $ping->status));
        $problem = [
            'bad_signature' => 'badsecret',
            'clock_skew' => 'clockskew',
        ][$answer['error'] ?? ''] ?? ($ping->status === 404 ? 'versionmismatch' : 'refused');
        return ['problem' => $problem, 'details' => $details + ['message' => $message, 'expected' => self::API_VERSION]];
    }

    /**
     * This plugin's release, as version.php names it.
     *
     * @return string
     */
    public static function plugin_release(): string {
        // Read as Moodle reads it, from the file itself: the check also runs from the command line, outside Moodle.
        $plugin = new \stdClass();
        require(__DIR__ . '/../version.php');
        return (string) $plugin->release;
    }

    /**
     * Whether a sidecar's release and this plugin's belong together.
     *
     * The two halves are released together and tested together: a release line is its major and
     * minor number (0.5 for 0.5.0 and 0.5.3), and only halves of one line are known to work as one.
     *
     * @param string $sidecar the sidecar's release
     * @param string $plugin this plugin's release
     * @return bool
     */
    public static function releases_match(string $sidecar, string $plugin): bool {
        $line = fn(string $release): array => array_slice(explode('.', $release), 0, 2);
        return $line($sidecar) === $line($plugin);
    }

    /**
     * Whether Moodle reaches the sidecar at $url over plain HTTP on another host.
     *
     * Every call carries students' camshots, names and reports, and the signed calls and single
     * sign-on links let whoever reads them on the network see what the sidecar holds: off this
     * host the sidecar is to be reached over HTTPS.
     *
     * @param string $url the sidecar URL
     * @return bool true when the URL is http:// to a host that is not loopback
     */
    public static function plain_http_off_host(string $url): bool {
        $parts = parse_url($url);
        if (!is_array($parts) || strtolower($parts['scheme'] ?? '') !== 'http') {
            return false;
        }
        return !self::is_loopback($url);
    }

    /**
     * Whether the administrators' browsers are sent to their own computer by the console link.
     *
     * The link goes to the console's public URL, or to the sidecar URL when that is unset; an
     * address on the loopback only reaches the console from a browser on the sidecar's own host,
     * which is no site's case unless Moodle itself is served there.
     *
     * @param string $consoleurl the console's public URL setting, '' when unset
     * @param string $sidecarurl the sidecar URL
     * @param string $wwwroot this site's address
     * @return bool true when the link points at loopback and the site does not
     */
    public static function console_link_stays_local(string $consoleurl, string $sidecarurl, string $wwwroot): bool {
        return self::is_loopback($consoleurl !== '' ? $consoleurl : $sidecarurl) && !self::is_loopback($wwwroot);
    }

    /**
     * Whether a URL's host is this computer: localhost, 127.0.0.0/8 or ::1.
     *
     * @param string $url an absolute URL
     * @return bool
     */
    public static function is_loopback(string $url): bool {
        $host = strtolower(trim((string) parse_url($url, PHP_URL_HOST), '[]'));
        if ($host === 'localhost' || str_ends_with($host, '.localhost')) {
            return true;
        }
        if (filter_var($host, FILTER_VALIDATE_IP) === false) {
            return false;
        }
        $address = inet_pton($host);
        return strlen($address) === 4 ? ord($address[0]) === 127 : $address === inet_pton('::1');
    }

    /**
     * Check the public path of direct upload as a browser would: through the Moodle host.
     *
     * `<public url>/healthz` must be the sidecar's health answer, and an upload without a token
     * must reach the sidecar's direct endpoint and be refused by it (401 `missing_token`), which
     * proves the proxy passes /api/v1/direct/ too.
     *
     * @param transport $transport how to send the requests
     * @param string $publicurl e.g. https://moodle.example.edu/proctorpy
     * @param int $timeout seconds per request
     * @return array ['problem' => one of DIRECT_PROBLEMS, 'details' => values for the message]
     */
    public static function check_public_path(transport $transport, string $publicurl, int $timeout): array {
        $details = ['url' => $publicurl];
        try {
            $health = $transport->send('GET', $publicurl . '/healthz', [], '', $timeout);
        } catch (sidecar_exception $e) {
            return ['problem' => $e->problem === 'blocked' ? 'blocked' : 'unreachable',
                'details' => $details + ['message' => $e->getMessage()]];
        }
        $status = $health->json();
        if ($health->status !== 200 || !is_array($status) || !isset($status['api'], $status['status'])) {
            return ['problem' => 'notsidecar', 'details' => $details + ['status' => $health->status]];
        }
        $details['api'] = (string) $status['api'];
        try {
            $upload = $transport->send(
                'POST',
                $publicurl . '/api/v1/direct/events',
                ['Content-Type: application/json'],
                '{}',
                $timeout
            );
        } catch (sidecar_exception $e) {
            return ['problem' => 'unreachable', 'details' => $details + ['message' => $e->getMessage()]];
        }
        $answer = $upload->json();
        if ($upload->status !== 401 || ($answer['error'] ?? null) !== 'missing_token') {
            return ['problem' => 'noapi', 'details' => $details + ['status' => $upload->status]];
        }
        return ['problem' => 'ok', 'details' => $details];
    }
}
