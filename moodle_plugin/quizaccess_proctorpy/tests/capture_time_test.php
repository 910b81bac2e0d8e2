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

namespace quizaccess_proctorpy;

use core_external\external_api;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\local\proctored_attempt::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\external\send_event::class)]
#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\external\upload_camshot::class)]
/**
 * Tests of the times a student's browser sends with camshots and events: Moodle refuses one outside the
 * attempt's possible span before the sidecar sees it, against a live sidecar.
 *
 * The sidecar is named by PROCTORPY_TEST_SIDECAR_URL and PROCTORPY_TEST_SIDECAR_SECRET; without them these tests fail.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\local\proctored_attempt
 * @covers     \quizaccess_proctorpy\external\send_event
 * @covers     \quizaccess_proctorpy\external\upload_camshot
 */
final class capture_time_test extends \advanced_testcase {
    use proctorpy_helper;

    /**
     * Call one of the plugin's external functions as the browser does.
     *
     * @param string $function its name
     * @param array $args its arguments
     * @return array Moodle's answer: error and exception, or data
     */
    private static function call(string $function, array $args): array {
        $_POST['sesskey'] = sesskey();
        return external_api::call_external_function($function, $args, true);
    }

    /**
     * A forged time (the year 11476, an hour ahead, before the attempt) is an invalid parameter naming the field,
     * and nothing reaches the sidecar; the server's own time passes.
     */
    public function test_times_outside_the_attempt_are_refused_before_the_sidecar(): void {
        $this->resetAfterTest();
        $client = $this->use_live_sidecar();
        [$course, $student] = $this->create_course_with_users();
        $attempt = $this->start_attempt($this->create_quiz($course), $student);
        $this->setUser($student);
        $image = base64_encode(self::image_bytes());
        $forged = [
            300000000000000,
            (time() + vocabulary::CAPTURE_LATEST_AHEAD + 60) * 1000,
            ($attempt->timestart - vocabulary::CAPTURE_EARLIEST_BEFORE_START - 60) * 1000,
        ];
        foreach ($forged as $n => $time) {
            $answer = self::call('quizaccess_proctorpy_upload_camshot', ['attemptid' => $attempt->id, 'takenat' => $time,
                'clientshotid' => "forged$n", 'kind' => 'attempt', 'image' => $image]);
            $this->assertTrue($answer['error'], "camshot at $time");
            $this->assertSame('invalidparameter', $answer['exception']->errorcode);
            $this->assertStringStartsWith('takenat must lie between', $answer['exception']->debuginfo);
            $answer = self::call('quizaccess_proctorpy_send_event', ['attemptid' => $attempt->id, 'type' => 'tab_hidden',
                'at' => $time, 'clienteventid' => "forged$n"]);
            $this->assertTrue($answer['error'], "event at $time");
            $this->assertStringStartsWith('at must lie between', $answer['exception']->debuginfo);
        }
        $this->assertSame([], $this->sidecar_attempt($client, $attempt->id)['shots']);

        $now = (int) (microtime(true) * 1000);
        $answer = self::call('quizaccess_proctorpy_upload_camshot', ['attemptid' => $attempt->id, 'takenat' => $now,
            'clientshotid' => 'honest', 'kind' => 'attempt', 'image' => $image]);
        $this->assertFalse($answer['error'], json_encode($answer));
        $answer = self::call('quizaccess_proctorpy_send_event', ['attemptid' => $attempt->id, 'type' => 'tab_hidden',
            'at' => $now, 'clienteventid' => 'honest']);
        $this->assertFalse($answer['error'], json_encode($answer));
        $stored = $this->sidecar_attempt($client, $attempt->id);
        $this->assertSame([$now], array_column($stored['shots'], 'taken_at'));
        $this->assertSame([$now], array_column($stored['events'], 'at'));
    }
}
