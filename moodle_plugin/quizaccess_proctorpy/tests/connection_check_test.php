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
 * Tests of what the Test connection page tells the admin.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

use quizaccess_proctorpy\local\moodle_transport;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\connection_check::class)]
/**
 * Whatever answers at the sidecar URL cannot put markup on the admin's page.
 *
 * @covers \quizaccess_proctorpy\connection_check
 */
final class connection_check_test extends \advanced_testcase {
    use proctorpy_helper;

    /**
     * A client of a "sidecar" that answers /healthz with $health and everything else with $other.
     *
     * @param array $health the JSON /healthz answers
     * @param response $other the answer to every other request
     * @return sidecar_client
     */
    private static function client_of(array $health, response $other): sidecar_client {
        $transport = new class ($health, $other) implements transport {
            /** @var array the health answer */
            private $health;
            /** @var response the answer to every other request */
            private $other;

            /**
             * A scripted transport.
             *
             * @param array $health the JSON /healthz answers
             * @param response $other the answer to every other request
             */
            public function __construct(array $health, response $other) {
                $this->health = $health;
                $this->other = $other;
            }

            /**
             * The scripted answer to a request.
             *
             * @param string $method HTTP method
             * @param string $url absolute URL
             * @param string[] $headers header lines
             * @param string $body raw body
             * @param int $timeout seconds
             * @return response
             */
            public function send(string $method, string $url, array $headers, string $body, int $timeout): response {
                if (str_ends_with($url, '/healthz')) {
                    return new response(200, 'application/json', json_encode($this->health));
                }
                return $this->other;
            }
        };
        return new sidecar_client('http://127.0.0.1:1', new signer('secret'), $transport, 1);
    }

    /**
     * The API version a hostile server reports is shown as text.
     */
    public function test_version_from_the_server_is_escaped(): void {
        $health = ['status' => 'ok', 'version' => '1.0', 'api' => '<img src=x onerror=alert(1)>'];
        $result = (new connection_check(self::client_of($health, new response(404, 'text/plain', ''))))->run();
        $this->assertSame('versionmismatch', $result['problem']);
        $message = connection_check::message('connection_', $result);
        $this->assertStringNotContainsString('<img', $message);
        $this->assertStringContainsString('&lt;img src=x onerror=alert(1)&gt;', $message);
    }

    /**
     * The error message a hostile server sends back to the signed call is shown as text.
     */
    public function test_message_from_the_server_is_escaped(): void {
        $health = ['status' => 'ok', 'version' => '1.0', 'api' => 'v1'];
        $refusal = new response(
            400,
            'application/json',
            json_encode(['error' => 'something', 'message' => '<script>alert(1)</script>'])
        );
        $result = (new connection_check(self::client_of($health, $refusal)))->run();
        $this->assertSame('refused', $result['problem']);
        $message = connection_check::message('connection_', $result);
        $this->assertStringNotContainsString('<script>', $message);
        $this->assertStringContainsString('&lt;script&gt;alert(1)&lt;/script&gt;', $message);
    }

    /**
     * Plain HTTP is warned of when it leaves this host, never for loopback or HTTPS.
     */
    public function test_plain_http_off_host_is_warned_of(): void {
        $cases = [
            'http://127.0.0.1:8765' => false,
            'http://127.0.0.2:8765' => false,
            'http://localhost:8765' => false,
            'http://[::1]:8765' => false,
            'https://sidecar.example.edu' => false,
            'https://10.0.0.5:8765' => false,
            'http://sidecar.example.edu:8765' => true,
            'HTTP://10.0.0.5:8765' => true,
            'http://[2001:db8::1]:8765' => true,
        ];
        foreach ($cases as $url => $warned) {
            $this->assertSame($warned, connection_check::plain_http_off_host($url), $url);
        }
        $this->assertStringContainsString(
            'http://sidecar.example.edu:8765 over plain HTTP',
            get_string('connection_plainhttp', 'quizaccess_proctorpy', 'http://sidecar.example.edu:8765')
        );
    }

    /**
     * The console link is warned of when it would send a browser to its own computer while the site is elsewhere.
     */
    public function test_console_link_on_loopback_is_warned_of(): void {
        $site = 'https://moodle.example.edu';
        $cases = [
            ['', 'http://127.0.0.1:8765', $site, true],
            ['http://localhost:8765', 'http://127.0.0.1:8765', $site, true],
            ['http://[::1]:8765', 'https://sidecar.example.edu', $site, true],
            ['https://moodle.example.edu/proctorpy', 'http://127.0.0.1:8765', $site, false],
            ['', 'https://sidecar.example.edu', $site, false],
            // A site served on loopback itself, as on a laptop: its admin's browser is on that host.
            ['', 'http://127.0.0.1:8765', 'http://localhost:8080', false],
        ];
        foreach ($cases as [$console, $sidecar, $wwwroot, $warned]) {
            $this->assertSame(
                $warned,
                connection_check::console_link_stays_local($console, $sidecar, $wwwroot),
                "console '$console', sidecar $sidecar, site $wwwroot"
            );
        }
        $message = get_string('connection_consoleurl', 'quizaccess_proctorpy', (object) [
            'console' => 'http://127.0.0.1:8765', 'site' => $site]);
        $this->assertStringContainsString('http://127.0.0.1:8765', $message);
        $this->assertStringContainsString('/console/', $message);
    }

    /**
     * Test connection teaches the live sidecar this Moodle site; another site's signed call is refused, naming both.
     */
    public function test_the_sidecar_serves_this_site_and_refuses_another(): void {
        $this->resetAfterTest();
        $client = $this->use_live_sidecar();
        $this->assertSame('ok', (new connection_check($client))->run()['problem']);
        $othersite = 'another' . get_site_identifier();
        $other = new sidecar_client(
            $client->base_url(),
            new signer((string) getenv('PROCTORPY_TEST_SIDECAR_SECRET'), $othersite),
            new moodle_transport(true),
            10
        );
        $refused = (new connection_check($other))->run();
        $this->assertSame('refused', $refused['problem']);
        $message = connection_check::message('connection_', $refused);
        $this->assertStringContainsString('serves the Moodle site', $message);
        $this->assertStringContainsString(get_site_identifier(), $message);
        $this->assertStringContainsString($othersite, $message);
        $this->assertSame('ok', (new connection_check($client))->run()['problem']);
    }

    /**
     * Test connection names both halves' releases, and tells whether they belong together.
     */
    public function test_both_releases_are_named_and_compared(): void {
        $this->resetAfterTest();
        $result = (new connection_check($this->use_live_sidecar()))->run();
        $this->assertSame('ok', $result['problem']);
        $release = \core_plugin_manager::instance()->get_plugin_info('quizaccess_proctorpy')->release;
        $this->assertSame($release, $result['details']['release']);
        $this->assertSame($release, $result['details']['version'], 'the sidecar under test is this release');
        $message = connection_check::message('connection_', $result);
        $this->assertStringContainsString('sidecar ' . $release . ', this plugin ' . $release, $message);
        $this->assertTrue(connection_check::releases_match('0.5.3', '0.5.0'));
        $this->assertFalse(connection_check::releases_match('0.4.1', '0.5.0'));
        $this->assertFalse(connection_check::releases_match('1.5.0', '0.5.0'));
        $mismatch = connection_check::message(
            'connection_',
            ['problem' => 'releasemismatch', 'details' => ['version' => '0.1.0', 'release' => '0.5.0']]
        );
        $this->assertStringContainsString('release 0.1.0 and this plugin release 0.5.0', $mismatch);
    }
}
