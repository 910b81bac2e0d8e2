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
 * Request signing and signed tokens shared with the sidecar.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

/**
 * Signs calls to the sidecar and mints `v1.<payload>.<mac>` tokens.
 *
 * The canonical text is five lines: METHOD, PATH?QUERY, timestamp, nonce and the hex SHA-256
 * of the body, and a sixth, the Moodle site's identifier, when the signer names the site (sent
 * as X-Proctorpy-Site, so a sidecar serves one Moodle site only); the signature is its hex
 * HMAC-SHA256 under the shared secret. The sidecar and this class are both tested against
 * tests/vectors/signing.json.
 */
class signer {
    /** Header names the sidecar reads. */
    const HEADER_TIMESTAMP = 'X-Proctorpy-Timestamp';
    /** Header carrying the random nonce. */
    const HEADER_NONCE = 'X-Proctorpy-Nonce';
    /** Header carrying the hex signature. */
    const HEADER_SIGNATURE = 'X-Proctorpy-Signature';
    /** Header naming the Moodle site (its site identifier), signed as the sixth line. */
    const HEADER_SITE = 'X-Proctorpy-Site';
    /** Version prefix of tokens. */
    const TOKEN_VERSION = 'v1';

    /** @var string the shared secret */
    private $secret;
    /** @var string the Moodle site's identifier, '' to name none */
    private $site;

    /**
     * Signer for one shared secret.
     *
     * @param string $secret the secret configured in both Moodle and the sidecar
     * @param string $site the site identifier (get_site_identifier()) to name on every call, '' for none
     */
    public function __construct(string $secret, string $site = '') {
        $this->secret = $secret;
        $this->site = $site;
    }

    /**
     * The exact text both halves sign.
     *
     * @param string $method HTTP method
     * @param string $pathandquery path with its query string, as sent
     * @param int $timestamp unix seconds
     * @param string $nonce random hex
     * @param string $body raw body bytes
     * @param string $site the Moodle site's identifier, '' for none
     * @return string five lines joined by newlines, six with a site
     */
    public static function canonical(
        string $method,
        string $pathandquery,
        int $timestamp,
        string $nonce,
        string $body,
        string $site = ''
    ): string {
        $lines = [strtoupper($method), $pathandquery, (string) $timestamp, $nonce, hash('sha256', $body)];
        if ($site !== '') {
            $lines[] = $site;
        }
        return implode("\n", $lines);
    }

    /**
     * Hex HMAC-SHA256 of the canonical request.
     *
     * @param string $method HTTP method
     * @param string $pathandquery path with its query string
     * @param int $timestamp unix seconds
     * @param string $nonce random hex
     * @param string $body raw body bytes
     * @return string 64 hex characters
     */
    public function sign(string $method, string $pathandquery, int $timestamp, string $nonce, string $body = ''): string {
        $canonical = self::canonical($method, $pathandquery, $timestamp, $nonce, $body, $this->site);
        return hash_hmac('sha256', $canonical, $this->secret);
    }

    /**
     * A fresh nonce: 16 random bytes as 32 hex characters.
     *
     * @return string
     */
    public static function nonce(): string {
        return bin2hex(random_bytes(16));
    }

    /**
     * The signature headers for one call, as `Name: value` lines: three, and the site's when named.
     *
     * @param string $method HTTP method
     * @param string $pathandquery path with its query string
     * @param string $body raw body bytes
     * @param int|null $timestamp unix seconds, now when null
     * @param string|null $nonce random hex, fresh when null
     * @return string[] header lines
     */
    public function headers(
        string $method,
        string $pathandquery,
        string $body = '',
        ?int $timestamp = null,
        ?string $nonce = null
    ): array {
        $timestamp = $timestamp ?? time();
        $nonce = $nonce ?? self::nonce();
        $headers = [
            self::HEADER_TIMESTAMP . ': ' . $timestamp,
            self::HEADER_NONCE . ': ' . $nonce,
            self::HEADER_SIGNATURE . ': ' . $this->sign($method, $pathandquery, $timestamp, $nonce, $body),
        ];
        if ($this->site !== '') {
            $headers[] = self::HEADER_SITE . ': ' . $this->site;
        }
        return $headers;
    }

    /**
     * A `v1.<base64url(json)>.<hex mac>` token over a payload.
     *
     * @param array $payload keys and values of the JSON object, in the order they are to be written
     * @return string the token
     */
    public function token(array $payload): string {
        // Slashes unescaped and non-ASCII as \uXXXX: the same text Python's json.dumps writes.
        $json = json_encode($payload, JSON_UNESCAPED_SLASHES);
        return $this->token_for_json($json);
    }

    /**
     * A token over JSON text exactly as given.
     *
     * @param string $json the payload as compact JSON
     * @return string the token
     */
    public function token_for_json(string $json): string {
        $body = self::TOKEN_VERSION . '.' . self::base64url($json);
        return $body . '.' . hash_hmac('sha256', $body, $this->secret);
    }

    /**
     * Base64url without padding.
     *
     * @param string $data bytes
     * @return string
     */
    public static function base64url(string $data): string {
        return rtrim(strtr(base64_encode($data), '+/', '-_'), '=');
    }
}
