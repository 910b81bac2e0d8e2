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
 * Tests of the signing client against the shared vectors.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\signer::class)]
/**
 * The PHP signer reproduces every signature and token of tests/vectors/signing.json.
 *
 * @covers \quizaccess_proctorpy\signer
 */
final class signer_test extends \basic_testcase {
    /**
     * The shared vectors: fixtures/signing.json, a copy of the repository's tests/vectors/signing.json.
     *
     * @return array
     */
    private function vectors(): array {
        return json_decode(file_get_contents(__DIR__ . '/fixtures/signing.json'), true, 512, JSON_THROW_ON_ERROR);
    }

    /**
     * Every signing vector: canonical text, body hash and signature.
     */
    public function test_signatures_match_vectors(): void {
        $vectors = $this->vectors()['signing'];
        $this->assertNotEmpty($vectors);
        $this->assertNotEmpty(array_filter($vectors, fn($v) => isset($v['site'])));
        foreach ($vectors as $v) {
            $site = $v['site'] ?? '';
            $body = base64_decode($v['body_base64'], true);
            $this->assertSame($v['body_sha256'], hash('sha256', $body), $v['name']);
            $this->assertSame(
                $v['canonical'],
                signer::canonical($v['method'], $v['path'], $v['timestamp'], $v['nonce'], $body, $site),
                $v['name']
            );
            $signer = new signer($v['secret'], $site);
            $this->assertSame(
                $v['signature'],
                $signer->sign($v['method'], $v['path'], $v['timestamp'], $v['nonce'], $body),
                $v['name']
            );
            $expected = [
                'X-Proctorpy-Timestamp: ' . $v['timestamp'],
                'X-Proctorpy-Nonce: ' . $v['nonce'],
                'X-Proctorpy-Signature: ' . $v['signature'],
            ];
            if ($site !== '') {
                $expected[] = 'X-Proctorpy-Site: ' . $site;
            }
            $headers = $signer->headers($v['method'], $v['path'], $body, $v['timestamp'], $v['nonce']);
            $this->assertSame($expected, $headers, $v['name']);
        }
    }

    /**
     * Every token vector, from the payload as an array and from its JSON text.
     */
    public function test_tokens_match_vectors(): void {
        $vectors = $this->vectors()['tokens'];
        $this->assertNotEmpty($vectors);
        foreach ($vectors as $v) {
            $signer = new signer($v['secret']);
            $this->assertSame($v['token'], $signer->token($v['payload']), $v['name']);
            $this->assertSame($v['token'], $signer->token_for_json($v['payload_json']), $v['name']);
        }
    }

    /**
     * A different secret gives a different signature.
     */
    public function test_other_secret_signs_differently(): void {
        $v = $this->vectors()['signing'][0];
        $body = base64_decode($v['body_base64'], true);
        $signature = (new signer($v['secret'] . 'x'))->sign($v['method'], $v['path'], $v['timestamp'], $v['nonce'], $body);
        $this->assertNotSame($v['signature'], $signature);
    }

    /**
     * Nonces are 16 random bytes in hex, never repeated.
     */
    public function test_nonce_is_32_hex_and_fresh(): void {
        $a = signer::nonce();
        $this->assertMatchesRegularExpression('/^[0-9a-f]{32}$/', $a);
        $this->assertNotSame($a, signer::nonce());
    }

    /**
     * Headers without a given time carry the current time.
     */
    public function test_headers_default_to_now(): void {
        $before = time();
        $headers = (new signer('s'))->headers('GET', '/api/v1/ping');
        $timestamp = (int) substr($headers[0], strlen('X-Proctorpy-Timestamp: '));
        $this->assertGreaterThanOrEqual($before, $timestamp);
        $this->assertLessThanOrEqual(time(), $timestamp);
    }

    /**
     * Base64url drops padding and uses the URL alphabet.
     */
    public function test_base64url(): void {
        $this->assertSame('-_8', signer::base64url("\xfb\xff"));
        $this->assertSame('YQ', signer::base64url('a'));
    }
}
