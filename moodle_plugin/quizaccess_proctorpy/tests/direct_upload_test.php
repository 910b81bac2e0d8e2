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
 * Tests of upload token minting and the public path of direct upload.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\direct_upload::class)]
/**
 * Upload tokens match the shared vectors; expiry, public path and the capture module's settings.
 *
 * @covers \quizaccess_proctorpy\direct_upload
 */
final class direct_upload_test extends \basic_testcase {
    /**
     * The direct upload token vector of fixtures/signing.json, the shared vectors.
     *
     * @return array
     */
    private function vector(): array {
        $vectors = json_decode(file_get_contents(__DIR__ . '/fixtures/signing.json'), true, 512, JSON_THROW_ON_ERROR)['tokens'];
        foreach ($vectors as $v) {
            if ($v['name'] === 'direct upload token') {
                return $v;
            }
        }
        $this->fail('No direct upload token in the vectors');
    }

    /**
     * The payload of a token, decoded.
     *
     * @param string $token the token
     * @return array
     */
    private static function payload(string $token): array {
        $part = explode('.', $token)[1];
        return json_decode(base64_decode(strtr($part, '-_', '+/')), true, 512, JSON_THROW_ON_ERROR);
    }

    /**
     * Minting reproduces the shared vector byte for byte: key order a, u, exp; compact JSON.
     */
    public function test_token_matches_the_vector(): void {
        $v = $this->vector();
        $p = $v['payload'];
        $token = direct_upload::token(new signer($v['secret']), $p['a'], $p['u'], $p['exp']);
        $this->assertSame($v['token'], $token);
        $this->assertSame(['a' => $p['a'], 'u' => $p['u'], 'exp' => $p['exp']], self::payload($token));
    }

    /**
     * Another secret or another attempt gives another token.
     */
    public function test_token_depends_on_secret_and_attempt(): void {
        $v = $this->vector();
        $p = $v['payload'];
        $this->assertNotSame($v['token'], direct_upload::token(new signer($v['secret'] . 'x'), $p['a'], $p['u'], $p['exp']));
        $this->assertNotSame($v['token'], direct_upload::token(new signer($v['secret']), $p['a'] + 1, $p['u'], $p['exp']));
    }

    /**
     * Expiry of a timed attempt: its time limit plus the margin, capped by the longest lifetime.
     */
    public function test_expiry(): void {
        $now = 1767225600;
        // Timed, started ten minutes ago, one hour limit: the end of the limit plus the margin.
        $this->assertSame($now - 600 + 3600 + direct_upload::MARGIN, direct_upload::expiry($now, $now - 600, 3600, 4 * 3600));
        // Timed, but longer than the longest lifetime: capped.
        $this->assertSame($now + 2 * 3600, direct_upload::expiry($now, $now, 6 * 3600, 2 * 3600));
        // Untimed: the longest lifetime.
        $this->assertSame($now + 4 * 3600, direct_upload::expiry($now, $now - 7200, 0, 4 * 3600));
        // A time limit long over (an overdue attempt): already expired, so the sidecar refuses it.
        $this->assertLessThan($now, direct_upload::expiry($now, $now - 7200, 1800, 4 * 3600));
        // A lifetime misconfigured to zero still leaves a minute.
        $this->assertSame($now + 60, direct_upload::expiry($now, $now, 0, 0));
    }

    /**
     * Public paths: absolute paths of plain segments only.
     */
    public function test_valid_paths(): void {
        foreach (['/proctorpy/', '/proctorpy', '/moodle/proctorpy/', '/a-b_c.d/'] as $path) {
            $this->assertTrue(direct_upload::is_valid_path($path), $path);
        }
        $invalid = ['', '/', 'proctorpy/', '//evil.example/', '/proctorpy/../admin/', '/./', '/pro ctorpy/',
            '/proctorpy?x=1', 'https://evil.example/proctorpy/', '/proctorpy//', "/proctorpy/\n"];
        foreach ($invalid as $path) {
            $this->assertFalse(direct_upload::is_valid_path($path), $path);
        }
    }

    /**
     * The public URL is on the Moodle host's origin, whatever subdirectory Moodle lives in.
     */
    public function test_public_url(): void {
        $this->assertSame(
            'https://moodle.example.edu/proctorpy',
            direct_upload::public_url('https://moodle.example.edu', '/proctorpy/')
        );
        $this->assertSame(
            'https://example.edu/proctorpy',
            direct_upload::public_url('https://example.edu/moodle', '/proctorpy')
        );
        $this->assertSame(
            'http://127.0.0.1:8080/p/q',
            direct_upload::public_url('http://127.0.0.1:8080', '/p/q/')
        );
    }

    /**
     * The capture module's settings: none in forwarded mode, url, token and user in direct mode.
     */
    public function test_capture_config(): void {
        $v = $this->vector();
        $now = 1767225600;
        $config = (object) ['secret' => $v['secret'], 'uploadmode' => 'forwarded', 'publicpath' => '/proctorpy/'];
        $this->assertNull(direct_upload::capture_config($config, 'https://m.example', 4711, 5, $now, 0, $now));
        $this->assertNull(direct_upload::capture_config(
            (object) ['secret' => 's'],
            'https://m.example',
            4711,
            5,
            $now,
            0,
            $now
        ), 'forwarded is the default');

        $config->uploadmode = 'direct';
        $config->tokenlifetime = 3600;
        $direct = direct_upload::capture_config($config, 'https://m.example', 4711, 5, $now - 60, 1800, $now);
        $this->assertSame('https://m.example/proctorpy', $direct['url']);
        $this->assertSame(5, $direct['userid']);
        $expiry = $now - 60 + 1800 + direct_upload::MARGIN;
        $this->assertSame(['a' => 4711, 'u' => 5, 'exp' => $expiry], self::payload($direct['token']));
        $this->assertSame(direct_upload::token(new signer($v['secret']), 4711, 5, $expiry), $direct['token']);

        $config->publicpath = '/../admin/';
        $this->assertNull(
            direct_upload::capture_config($config, 'https://m.example', 4711, 5, $now, 0, $now),
            'an invalid public path falls back to forwarding'
        );
    }
}
