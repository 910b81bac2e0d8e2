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
 * Tests of which images the image proxy serves for an attempt, against a live sidecar.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy;

use mod_quiz\quiz_settings;
use quizaccess_proctorpy\local\proctored_attempt;

defined('MOODLE_INTERNAL') || die();

global $CFG;
require_once($CFG->dirroot . '/mod/quiz/locallib.php');

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\image_link::class)]
/**
 * image.php serves an attempt's camshots and reference photos, and nothing of another attempt.
 *
 * Needs a running sidecar (PROCTORPY_TEST_SIDECAR_URL, PROCTORPY_TEST_SIDECAR_SECRET) and photos
 * of faces: the folder PROCTORPY_TEST_FACES, else `shared/testdata/faces` beside the project.
 *
 * @covers \quizaccess_proctorpy\image_link
 */
final class image_link_test extends \advanced_testcase {
    use \quizaccess_proctorpy\tests\proctorpy_helper;

    /** @var sidecar_client|null the live sidecar, once configured */
    private $client = null;
    /** @var int[] users whose data this test put in the sidecar */
    private $userids = [];

    /**
     * Remove this test's users from the sidecar, so that no later test finds their photos or
     * attempts under its own ids.
     */
    protected function tearDown(): void {
        foreach ($this->userids as $userid) {
            $this->client->json('DELETE', api::user($userid));
        }
        parent::tearDown();
    }

    /**
     * What the sidecar lists for an attempt gives the ids of its camshots and reference photos, once each.
     */
    public function test_image_ids_of_a_record(): void {
        $record = [
            'attempt' => ['id' => 7],
            'shots' => [['id' => 'aaaa', 'kind' => 'identity'], ['id' => 'bbbb', 'kind' => 'attempt']],
            'references' => [['id' => 'cccc', 'source' => 'profile'], ['id' => 'aaaa', 'source' => 'identity']],
        ];
        $this->assertSame(['aaaa', 'bbbb', 'cccc'], image_link::image_ids($record));
        $this->assertSame([], image_link::image_ids(['attempt' => ['id' => 7]]));
        $this->assertSame(['bbbb'], image_link::image_ids(['shots' => [['id' => 'bbbb'], ['kind' => 'attempt'],
            ['id' => ['not', 'an', 'id']]]]));
    }

    /**
     * An attempt's images are its camshots and its student's profile photo; another student's
     * attempt has its own, and neither sees the other's.
     */
    public function test_attempt_lists_its_reference_photo_and_not_another(): void {
        $this->resetAfterTest();
        $client = $this->use_live_sidecar();
        $this->client = $client;
        $faces = $this->faces_folder();
        $actor = api::actor(2, 'Admin User');

        $generator = $this->getDataGenerator();
        $course = $generator->create_course();
        $quiz = $generator->create_module('quiz', ['course' => $course->id, 'sumgrades' => 1, 'proctorpy_enabled' => 1,
            'proctorpy_intervalmin' => 30, 'proctorpy_intervalmax' => 60, 'proctorpy_imagewidth' => 320,
            'proctorpy_identitycheck' => 'match', 'proctorpy_threshold' => 60, 'proctorpy_retentiondays' => '']);
        $questiongenerator = $generator->get_plugin_generator('core_question');
        $question = $questiongenerator->create_question(
            'truefalse',
            null,
            ['category' => $questiongenerator->create_question_category()->id]
        );
        quiz_add_quiz_question($question->id, $quiz, 1);

        $photos = ['obama/obama-480p.jpg', 'biden/biden.jpg'];
        $attempts = [];
        $references = [];
        foreach ($photos as $photo) {
            $student = $generator->create_and_enrol($course, 'student');
            // Moodle's test site gives each test the same ids: the sidecar may hold an earlier
            // test's user or attempt under them. The attempt is registered as the observer would.
            try {
                $client->json('DELETE', api::user((int) $student->id));
            } catch (sidecar_exception $e) {
                $this->assertSame(404, $e->status, $e->getMessage());
            }
            $this->userids[] = (int) $student->id;
            $this->setUser($student);
            $sink = $this->redirectEvents();
            $attempt = quiz_prepare_and_start_new_attempt(quiz_settings::create($quiz->id), 1, null);
            $sink->close();
            $this->setAdminUser();
            $client->json('POST', api::purge(), ['attempt_id' => (int) $attempt->id, 'dry_run' => false] + $actor);
            proctored_attempt::load((int) $attempt->id, $client)->register();
            $answer = $client->image(
                'PUT',
                api::reference((int) $student->id),
                [],
                file_get_contents($faces . '/' . $photo),
                'image/jpeg'
            );
            $attempts[] = (int) $attempt->id;
            $references[] = (string) $answer['id'];
        }

        [$first, $second] = $attempts;
        $firstids = image_link::attempt_image_ids($client, $first, $actor);
        $secondids = image_link::attempt_image_ids($client, $second, $actor);
        $this->assertContains($references[0], $firstids);
        $this->assertNotContains($references[1], $firstids);
        $this->assertContains($references[1], $secondids);
        $this->assertNotContains($references[0], $secondids);

        // Each id it lists is an image the sidecar serves.
        $response = $client->call('GET', api::camshot_image($references[0], true, $actor));
        $this->assertSame("\x89PNG", substr($response->body, 0, 4));
    }
}
