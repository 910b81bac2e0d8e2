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

namespace quizaccess_proctorpy\tests;

use mod_quiz\quiz_attempt;
use mod_quiz\quiz_settings;
use quizaccess_proctorpy\api;
use quizaccess_proctorpy\camshot_image;
use quizaccess_proctorpy\sidecar_client;

/**
 * Courses, quizzes and attempts for the plugin's tests, and the live sidecar some of them talk to.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
trait proctorpy_helper {
    /**
     * A course with an enrolled student and an editing teacher.
     *
     * @return array [course, student, teacher]
     */
    protected function create_course_with_users(): array {
        $generator = $this->getDataGenerator();
        $course = $generator->create_course(['fullname' => 'Chemistry 101']);
        $student = $generator->create_and_enrol($course, 'student', ['firstname' => 'Émile', 'lastname' => 'Zoë']);
        $teacher = $generator->create_and_enrol($course, 'editingteacher');
        return [$course, $student, $teacher];
    }

    /**
     * A quiz with one true/false question, proctored when settings are given.
     *
     * @param \stdClass $course the course
     * @param array|null $proctoring settings for the plugin's generator (site defaults, enabled, for []),
     *      null for a quiz without proctoring
     * @param array $quizfields other fields of the quiz
     * @return \stdClass the quiz, with cmid
     */
    protected function create_quiz(\stdClass $course, ?array $proctoring = [], array $quizfields = []): \stdClass {
        global $CFG;
        require_once($CFG->dirroot . '/mod/quiz/locallib.php');
        $generator = $this->getDataGenerator();
        $quiz = $generator->get_plugin_generator('mod_quiz')->create_instance(
            ['course' => $course->id, 'name' => 'Midterm', 'questionsperpage' => 0, 'grade' => 10, 'sumgrades' => 1]
            + $quizfields
        );
        $questions = $generator->get_plugin_generator('core_question');
        $category = $questions->create_question_category();
        $question = $questions->create_question('truefalse', null, ['category' => $category->id]);
        quiz_add_quiz_question($question->id, $quiz);
        if ($proctoring !== null) {
            $generator->get_plugin_generator('quizaccess_proctorpy')->create_settings(['quizid' => $quiz->id] + $proctoring);
        }
        return $quiz;
    }

    /**
     * The quiz as the access manager loads it, with its proctoring settings.
     *
     * @param \stdClass $quiz the quiz
     * @return quiz_settings
     */
    protected function quiz_settings(\stdClass $quiz): quiz_settings {
        global $USER;
        return quiz_settings::create($quiz->id, $USER->id ?: null);
    }

    /**
     * Start an attempt as the given user, who stays the current user.
     *
     * The attempt_started event reaches the plugin's observer, which registers the attempt with the
     * configured sidecar; tests without a sidecar start attempts with events redirected.
     *
     * @param \stdClass $quiz the quiz
     * @param \stdClass $user the student
     * @return \stdClass row of quiz_attempts
     */
    protected function start_attempt(\stdClass $quiz, \stdClass $user): \stdClass {
        $this->setUser($user);
        $attempt = $this->getDataGenerator()->get_plugin_generator('mod_quiz')->create_attempt($quiz->id, $user->id);
        return $attempt;
    }

    /**
     * Submit an attempt as its owner.
     *
     * @param \stdClass $attempt row of quiz_attempts
     */
    protected function finish_attempt(\stdClass $attempt): void {
        self::submit_attempt(quiz_attempt::create($attempt->id), time());
    }

    /**
     * Submit and grade an attempt as Moodle does when its student submits it: process_submit() then
     * process_grade_submission() on Moodle 5.0+, where process_finish() is deprecated; process_finish() before.
     *
     * @param quiz_attempt $attemptobj the attempt
     * @param int $timestamp the time it is submitted
     */
    protected static function submit_attempt(quiz_attempt $attemptobj, int $timestamp): void {
        if (method_exists($attemptobj, 'process_submit')) {
            $attemptobj->process_submit($timestamp, false);
            $attemptobj->process_grade_submission($timestamp);
        } else {
            $attemptobj->process_finish($timestamp, false);
        }
    }

    /**
     * Point the plugin at the live sidecar named by the environment, and clear what earlier tests left in it.
     *
     * Moodle's test site starts its ids afresh in every test while the sidecar keeps its data for the
     * whole run, so an attempt id of an earlier test would clash with this test's attempt. The sidecar
     * must be one for the tests alone: everything it holds is deleted.
     *
     * @return sidecar_client the plugin's client of that sidecar
     */
    protected function use_live_sidecar(): sidecar_client {
        $url = getenv('PROCTORPY_TEST_SIDECAR_URL');
        $secret = getenv('PROCTORPY_TEST_SIDECAR_SECRET');
        if (!$url || !$secret) {
            $this->fail('This test talks to a live proctorpy sidecar: set PROCTORPY_TEST_SIDECAR_URL (e.g. '
                . 'http://127.0.0.1:8765) and PROCTORPY_TEST_SIDECAR_SECRET (its PROCTORPY_SECRET) for the PHPUnit run, '
                . 'as tests/test_moodle_phpunit.py in the proctorpy repository does. Use a sidecar of its own: the tests '
                . 'delete everything it holds.');
        }
        // The sidecar hears of attempts starting and ending once Moodle commits them: a reset by rollback
        // would keep the test inside one transaction, and those observers would never run.
        $this->preventResetByRollback();
        set_config('sidecarurl', $url, 'quizaccess_proctorpy');
        set_config('secret', $secret, 'quizaccess_proctorpy');
        set_config('bypasscurlsecurity', 1, 'quizaccess_proctorpy');
        $client = sidecar_client::from_config();
        $client->json('POST', api::purge(), ['before' => 253402300799, 'dry_run' => false]
            + api::actor(0, 'quizaccess_proctorpy tests'));
        return $client;
    }

    /**
     * What the sidecar holds about an attempt: its signed GET /api/v1/attempts/<id>.
     *
     * @param sidecar_client $client client of the sidecar
     * @param int $attemptid quiz attempt id
     * @return array attempt, shots, events, score, review
     */
    protected function sidecar_attempt(sidecar_client $client, int $attemptid): array {
        return $client->json('GET', api::with_query(api::attempt($attemptid), api::actor(0, 'quizaccess_proctorpy tests')));
    }

    /**
     * The folder of test photos of faces: PROCTORPY_TEST_FACES, else `shared/testdata/faces` beside the project.
     *
     * @return string
     */
    protected function faces_folder(): string {
        global $CFG;
        $candidates = [getenv('PROCTORPY_TEST_FACES') ?: ''];
        for ($dir = $CFG->dirroot; dirname($dir) !== $dir; $dir = dirname($dir)) {
            $candidates[] = $dir . '/shared/testdata/faces';
        }
        foreach ($candidates as $candidate) {
            if ($candidate !== '' && is_dir($candidate)) {
                return $candidate;
            }
        }
        $this->fail('This test needs photos of faces: set PROCTORPY_TEST_FACES to the folder of the project\'s test '
            . 'faces (shared/testdata/faces).');
    }

    /**
     * Frames of a student following an identity challenge, made by the pytest suite from a shared face photo.
     *
     * @param string $challenge closer, left or right
     * @return string[] base64 JPEGs, in the order they were taken
     */
    protected function challenge_frames(string $challenge): array {
        $folder = getenv('PROCTORPY_TEST_FRAMES') ?: '';
        $files = $folder === '' ? [] : glob($folder . '/' . $challenge . '/*.jpg');
        if (!$files) {
            $this->fail('This test needs frames that follow the identity challenges: set PROCTORPY_TEST_FRAMES to the '
                . 'folder tests/test_moodle_phpunit.py writes them to.');
        }
        natsort($files);
        return array_values(array_map(fn($file) => base64_encode(file_get_contents($file)), $files));
    }

    /**
     * An identity check through the sidecar's API, as the plugin makes one: the challenge drawn, then the frames of
     * the pytest suite's photo (obama/obama1.jpg) following it. The sidecar analyses its photo at once.
     *
     * @param sidecar_client $client the live sidecar's client
     * @param int $attemptid Moodle's quiz attempt id
     * @param int $userid the attempt's owner
     * @param string $clientshotid idempotency key
     * @return array the sidecar's answer
     */
    protected function follow_identity_challenge(
        sidecar_client $client,
        int $attemptid,
        int $userid,
        string $clientshotid
    ): array {
        $challenge = $client->json('POST', api::identity_challenge($attemptid), ['user_id' => $userid]);
        $frames = array_map(fn($frame) => camshot_image::from_base64($frame), $this->challenge_frames($challenge['kind']));
        return $client->images('POST', api::identity($attemptid), ['user_id' => $userid,
            'taken_at' => (int) (microtime(true) * 1000), 'client_shot_id' => $clientshotid,
            'challenge_id' => $challenge['id']], 'frame', $frames);
    }

    /**
     * An image drawn with GD: a grey background and a darker rectangle, no face.
     *
     * @param int $width pixels
     * @param int $height pixels
     * @param string $format png or jpeg
     * @return string image bytes
     */
    protected static function image_bytes(int $width = 320, int $height = 240, string $format = 'png'): string {
        $image = imagecreatetruecolor($width, $height);
        imagefill($image, 0, 0, imagecolorallocate($image, 180, 180, 170));
        imagefilledrectangle(
            $image,
            intdiv($width, 4),
            intdiv($height, 4),
            intdiv($width, 2),
            intdiv($height, 2),
            imagecolorallocate($image, 60, 70, 90)
        );
        ob_start();
        $format === 'png' ? imagepng($image) : imagejpeg($image, null, 85);
        $bytes = ob_get_clean();
        imagedestroy($image);
        return $bytes;
    }
}
