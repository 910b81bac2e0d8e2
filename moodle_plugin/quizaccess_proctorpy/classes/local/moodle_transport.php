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
 * Transport through Moodle's curl class.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\local;

use quizaccess_proctorpy\response;
use quizaccess_proctorpy\sidecar_exception;
use quizaccess_proctorpy\transport;

defined('MOODLE_INTERNAL') || die();

global $CFG;
require_once($CFG->libdir . '/filelib.php');

/**
 * Sends requests with Moodle's `\curl` (proxy settings included).
 *
 * Moodle's curl security refuses loopback hosts and ports other than 80/443, which is where the
 * sidecar usually listens. The admin setting `bypasscurlsecurity` lifts that check for the
 * sidecar's own, admin-configured URL only; when it is off, a blocked URL is reported as such.
 */
class moodle_transport implements transport {
    /** @var bool whether Moodle's curl security is bypassed for the sidecar URL */
    private $bypasssecurity;

    /**
     * A transport.
     *
     * @param bool $bypasssecurity bypass Moodle's curl security check
     */
    public function __construct(bool $bypasssecurity) {
        $this->bypasssecurity = $bypasssecurity;
    }

    /**
     * Whether Moodle's curl security would refuse this URL.
     *
     * @param string $url absolute URL
     * @return bool
     */
    public static function is_blocked(string $url): bool {
        return (new \core\files\curl_security_helper())->url_is_blocked($url);
    }

    /**
     * Send one request.
     *
     * @param string $method HTTP method
     * @param string $url absolute URL
     * @param string[] $headers header lines
     * @param string $body raw body
     * @param int $timeout seconds
     * @return response
     * @throws sidecar_exception
     */
    public function send(string $method, string $url, array $headers, string $body, int $timeout): response {
        if (!$this->bypasssecurity && self::is_blocked($url)) {
            throw new sidecar_exception('blocked', "Moodle's HTTP security settings (curlsecurityblockedhosts, "
                . 'curlsecurityallowedport) block ' . $url . '.');
        }
        $curl = new \curl(['ignoresecurity' => $this->bypasssecurity]);
        // An Expect: 100-continue round trip only slows uploads to a local sidecar.
        $curl->setHeader(array_merge($headers, ['Expect:']));
        $options = [
            'CURLOPT_TIMEOUT' => $timeout,
            'CURLOPT_CONNECTTIMEOUT' => min($timeout, 5),
            'CURLOPT_FOLLOWLOCATION' => false,
            'CURLOPT_CUSTOMREQUEST' => $method,
        ];
        if ($method === 'GET') {
            $answer = $curl->get($url, [], $options);
        } else {
            $answer = $curl->post($url, $body, $options);
        }
        $info = $curl->get_info();
        $status = (int) ($info['http_code'] ?? 0);
        if ($curl->get_errno() || $status === 0) {
            throw new sidecar_exception('unreachable', 'No answer from ' . $url . ': ' . ($curl->error ?: 'connection failed')
                . '.');
        }
        return new response($status, (string) ($info['content_type'] ?? ''), (string) $answer);
    }
}
