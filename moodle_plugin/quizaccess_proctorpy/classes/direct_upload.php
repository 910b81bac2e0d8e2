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
 * Direct upload: upload tokens and the public path browsers post to.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * In direct mode the capture module posts camshots and events straight to the sidecar, through
 * a path of the Moodle host that its web server proxies to the sidecar, with an upload token
 * minted here when the attempt page is set up. Forwarding through Moodle stays the default and
 * the fallback.
 */
class direct_upload {
    /** Upload mode: every camshot through Moodle's external functions. */
    const MODE_FORWARDED = 'forwarded';
    /** Upload mode: camshots straight to the sidecar through the public path. */
    const MODE_DIRECT = 'direct';
    /** Default public path on the Moodle host. */
    const DEFAULT_PATH = '/proctorpy/';
    /** Default longest lifetime of a token, seconds. */
    const DEFAULT_MAX_LIFETIME = 4 * 3600;
    /** Seconds a token outlives the attempt's time limit: the last queued camshots still arrive. */
    const MARGIN = 900;
    /** Characters allowed in the public path; D: $ is the very end, not before a final newline. */
    const PATH_PATTERN = '~^(?:/[A-Za-z0-9._\-]+)+/?$~D';

    /**
     * When a token minted now for an attempt expires.
     *
     * A timed attempt's token lasts to the end of its time limit plus a margin; an untimed
     * attempt's the configured maximum, which also caps the other. Each attempt page mints a
     * fresh token, so a long attempt is covered page by page.
     *
     * @param int $now unix seconds
     * @param int $timestart when the attempt started, unix seconds
     * @param int $timelimit the quiz's time limit for this user in seconds, 0 for none
     * @param int $maxlifetime longest lifetime in seconds
     * @return int unix seconds
     */
    public static function expiry(int $now, int $timestart, int $timelimit, int $maxlifetime): int {
        $latest = $now + max(60, $maxlifetime);
        if ($timelimit > 0) {
            return min($latest, $timestart + $timelimit + self::MARGIN);
        }
        return $latest;
    }

    /**
     * The upload token of one attempt: `{"a": attempt, "u": user, "exp": expiry}`, signed.
     *
     * @param signer $signer signer holding the shared secret
     * @param int $attemptid quiz attempt id
     * @param int $userid the attempt's owner
     * @param int $expiry unix seconds
     * @return string the token
     */
    public static function token(signer $signer, int $attemptid, int $userid, int $expiry): string {
        // Key order is part of the token: the sidecar checks the MAC over these exact bytes.
        return $signer->token(['a' => $attemptid, 'u' => $userid, 'exp' => $expiry]);
    }

    /**
     * Whether a public path is an absolute path of plain segments.
     *
     * @param string $path e.g. /proctorpy/
     * @return bool
     */
    public static function is_valid_path(string $path): bool {
        return (bool) preg_match(self::PATH_PATTERN, $path) && !preg_match('~(^|/)\.\.?(/|$)~', $path);
    }

    /**
     * Where browsers reach the sidecar: the Moodle host's origin and the public path.
     *
     * The path is on the host, not under wwwroot, so a Moodle in a subdirectory uses the same
     * web server rule.
     *
     * @param string $wwwroot Moodle's wwwroot
     * @param string $publicpath e.g. /proctorpy/
     * @return string URL without trailing slash, e.g. https://moodle.example.edu/proctorpy
     */
    public static function public_url(string $wwwroot, string $publicpath): string {
        $parts = parse_url($wwwroot);
        $origin = $parts['scheme'] . '://' . $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '');
        return $origin . rtrim($publicpath, '/');
    }

    /**
     * What the capture module needs for direct upload, or null in forwarded mode.
     *
     * @param \stdClass $config the plugin's settings
     * @param string $wwwroot Moodle's wwwroot
     * @param int $attemptid quiz attempt id
     * @param int $userid the attempt's owner
     * @param int $timestart when the attempt started
     * @param int $timelimit the quiz's time limit for this user, 0 for none
     * @param int $now unix seconds
     * @return array|null url, token, userid
     */
    public static function capture_config(
        \stdClass $config,
        string $wwwroot,
        int $attemptid,
        int $userid,
        int $timestart,
        int $timelimit,
        int $now
    ): ?array {
        $path = (string) ($config->publicpath ?? self::DEFAULT_PATH);
        if (($config->uploadmode ?? self::MODE_FORWARDED) !== self::MODE_DIRECT || !self::is_valid_path($path)) {
            return null;
        }
        $maxlifetime = (int) ($config->tokenlifetime ?? self::DEFAULT_MAX_LIFETIME);
        $expiry = self::expiry($now, $timestart, $timelimit, $maxlifetime);
        return [
            'url' => self::public_url($wwwroot, $path),
            'token' => self::token(new signer((string) ($config->secret ?? '')), $attemptid, $userid, $expiry),
            'userid' => $userid,
        ];
    }
}
