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
 * Tests of the sidecar paths and proxy addresses.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\api::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\image_link::class)]
/**
 * Paths of the API, the pass-through of report parameters and image addresses.
 *
 * @covers \quizaccess_proctorpy\api
 * @covers \quizaccess_proctorpy\image_link
 */
final class urls_test extends \basic_testcase {
    /**
     * Fixed paths of the contract.
     */
    public function test_paths(): void {
        $this->assertSame('/api/v1/attempts/42', api::attempt(42));
        $this->assertSame('/api/v1/attempts/42/finish', api::finish(42));
        $this->assertSame('/api/v1/attempts/42/identity', api::identity(42));
        $this->assertSame('/api/v1/attempts/42/review', api::review(42));
        $this->assertSame('/api/v1/camshots', api::camshots());
        $this->assertSame('/api/v1/events', api::events());
        $this->assertSame('/api/v1/users/5/reference', api::reference(5));
        $this->assertSame('/api/v1/users/5', api::user(5));
        $this->assertSame('/api/v1/purge', api::purge());
        $this->assertSame('/api/v1/ping', api::ping());
    }

    /**
     * The overview keeps only known parameters, adds the viewer, and encodes spaces as %20.
     */
    public function test_overview_passes_known_parameters(): void {
        $actor = api::actor(3, 'Ann O\'Neil & co');
        $path = api::quiz_attempts(12, 'csv', ['sort' => 'score', 'dir' => 'desc', 'evil' => 'x', 'flagged' => '1',
            'q' => ['a']], $actor);
        $this->assertSame('/api/v1/quizzes/12/attempts?format=csv&sort=score&dir=desc&flagged=1&actor_id=3'
            . '&actor_name=Ann%20O%27Neil%20%26%20co', $path);
        $this->assertSame(
            '/api/v1/quizzes/12/attempts?actor_id=3&actor_name=Ann%20O%27Neil%20%26%20co',
            api::quiz_attempts(12, 'json', [], $actor)
        );
        $this->assertSame(
            '/api/v1/quizzes/12/attempts?format=html&q=ann&tz=Europe%2FParis'
            . '&link_base=https%3A%2F%2Fm.example%2Fr.php%3Fcmid%3D8%26attempt%3D'
            . '&sort_base=https%3A%2F%2Fm.example%2Fr.php%3Fcmid%3D8%26&actor_id=3&actor_name=T',
            api::quiz_attempts(
                12,
                'html',
                ['q' => 'ann'],
                api::actor(3, 'T'),
                'Europe/Paris',
                'https://m.example/r.php?cmid=8&attempt=',
                'https://m.example/r.php?cmid=8&'
            )
        );
    }

    /**
     * The attempt report carries the image base, encoded, and says when the viewer may not open full-size images.
     */
    public function test_attempt_report(): void {
        $base = image_link::base('https://moodle.example', 8, 42);
        $this->assertSame('https://moodle.example/mod/quiz/accessrule/proctorpy/image.php/8/42/', $base);
        $this->assertSame('/api/v1/attempts/42/report?image_base='
            . 'https%3A%2F%2Fmoodle.example%2Fmod%2Fquiz%2Faccessrule%2Fproctorpy%2Fimage.php%2F8%2F42%2F'
            . '&actor_id=3&actor_name=T', api::attempt_report(42, $base, api::actor(3, 'T')));
        $this->assertSame(
            '/api/v1/attempts/42/report?image_base=%2Fi%2F&full_size=0&actor_id=3&actor_name=T',
            api::attempt_report(42, '/i/', api::actor(3, 'T'), false),
            'Thumbnails without links to the full-size image'
        );
        $this->assertSame('/api/v1/attempts/42/report.pdf?actor_id=3&actor_name=T', api::attempt_pdf(42, api::actor(3, 'T')));
        $this->assertSame(
            '/api/v1/attempts/42/report?image_base=%2Fi%2F&named_user_ids=5%2C6&actor_id=3&actor_name=T',
            api::attempt_report(42, '/i/', api::actor(3, 'T'), true, [5, 6]),
            'Only the students the viewer may see are named'
        );
        $this->assertSame(
            '/api/v1/attempts/42/report.pdf?named_user_ids=5&actor_id=3&actor_name=T',
            api::attempt_pdf(42, api::actor(3, 'T'), [5])
        );
        $this->assertSame(
            '/api/v1/attempts/42/report?image_base=%2Fi%2F&tz=Europe%2FParis&link_base=%2Fr%3Fattempt%3D'
                . '&named_user_ids=5&actor_id=3&actor_name=T',
            api::attempt_report(42, '/i/', api::actor(3, 'T'), true, [5], 'Europe/Paris', '/r?attempt='),
            'Times in the viewer\'s zone, and another student linked to their attempt'
        );
        $this->assertSame(
            '/api/v1/attempts/42/report.pdf?tz=Asia%2FTokyo&actor_id=3&actor_name=T',
            api::attempt_pdf(42, api::actor(3, 'T'), null, 'Asia/Tokyo')
        );
        $this->expectException(\InvalidArgumentException::class);
        api::attempt_pdf(42, api::actor(3, 'T'), []);
    }

    /**
     * The live view: opened with its viewer (audited by the sidecar), refreshed without.
     */
    public function test_live(): void {
        $this->assertSame('/api/v1/quizzes/12/live?user_ids=5%2C7', api::quiz_live(12, [5, 7]));
        $this->assertSame('/api/v1/quizzes/12/live', api::quiz_live(12));
        $this->assertSame(
            '/api/v1/quizzes/12/live?user_ids=5&actor_id=3&actor_name=T&view=opened',
            api::quiz_live(12, [5], api::actor(3, 'T'))
        );
    }

    /**
     * Camshot images: thumbnails, and ids that could change the path are refused.
     */
    public function test_camshot_image_path(): void {
        $this->assertSame(
            '/api/v1/camshots/c_01H-x/image?size=thumb&actor_id=1&actor_name=A',
            api::camshot_image('c_01H-x', true, api::actor(1, 'A'))
        );
        $this->assertSame('/api/v1/camshots/abc/image', api::camshot_image('abc', false, []));
        foreach (['../../users/5/data', 'a/b', 'a?b', '', str_repeat('a', 65)] as $bad) {
            $this->assertFalse(api::is_camshot_id($bad), $bad);
        }
        $this->expectException(\InvalidArgumentException::class);
        api::camshot_image('../etc', false, []);
    }

    /**
     * What the sidecar appends to the base reads back, with slash arguments on or off.
     */
    public function test_image_link_round_trip(): void {
        $this->assertSame(
            ['cmid' => 8, 'attemptid' => 42, 'camshotid' => 'abc', 'thumb' => false],
            image_link::parse('/8/42/abc', false)
        );
        $this->assertSame(
            ['cmid' => 8, 'attemptid' => 42, 'camshotid' => 'abc', 'thumb' => true],
            image_link::parse('/8/42/abc', true)
        );
        // Slash arguments off: the base ends in ?file=/8/42/ and the sidecar's ?size=thumb lands inside it.
        $base = image_link::base('https://m.example', 8, 42, false);
        $this->assertSame('https://m.example/mod/quiz/accessrule/proctorpy/image.php?file=/8/42/', $base);
        $this->assertSame(
            ['cmid' => 8, 'attemptid' => 42, 'camshotid' => 'abc', 'thumb' => true],
            image_link::parse('/8/42/abc?size=thumb', false)
        );
    }

    /**
     * Malformed addresses are refused.
     */
    public function test_image_link_refuses_malformed(): void {
        foreach (['', '/8/42/', '/8/abc', '/x/42/abc', '/8/42/a/b', '/8/42/..', '8/42/abc'] as $bad) {
            $this->assertNull(image_link::parse($bad, false), $bad);
        }
    }

    /**
     * The console SSO address.
     */
    public function test_console_sso(): void {
        $this->assertSame(
            'http://127.0.0.1:8765/console/sso?token=v1.abc.def',
            api::console_sso('http://127.0.0.1:8765/', 'v1.abc.def')
        );
    }
}
