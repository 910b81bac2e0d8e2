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
use core_privacy\local\metadata\collection;
use core_privacy\local\metadata\types\database_table;
use core_privacy\local\metadata\types\external_location;
use core_privacy\local\request\approved_contextlist;
use core_privacy\local\request\approved_userlist;
use core_privacy\local\request\userlist;
use core_privacy\local\request\writer;
use quizaccess_proctorpy\privacy\provider;
use quizaccess_proctorpy\tests\proctorpy_helper;

#[\PHPUnit\Framework\Attributes\CoversClass(\quizaccess_proctorpy\privacy\provider::class)]
/**
 * Tests of the privacy provider, whose data lives in the live sidecar.
 *
 * The sidecar is named by PROCTORPY_TEST_SIDECAR_URL and PROCTORPY_TEST_SIDECAR_SECRET; without them these tests fail.
 *
 * @package    quizaccess_proctorpy
 * @category   test
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \quizaccess_proctorpy\privacy\provider
 */
final class privacy_provider_test extends \core_privacy\tests\provider_testcase {
    use proctorpy_helper;

    /** @var sidecar_client the plugin's client of the live sidecar */
    private $client;
    /** @var \stdClass the course */
    private $course;
    /** @var \stdClass first student */
    private $student;
    /** @var \stdClass second student */
    private $other;
    /** @var \stdClass first proctored quiz */
    private $quiz;
    /** @var \stdClass second proctored quiz */
    private $quiz2;
    /** @var \stdClass[] attempts by [student index][quiz index] */
    private $attempts = [];

    /**
     * Two students, each with a camshot in two proctored quizzes, the first with a profile photo as reference.
     */
    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        $this->client = $this->use_live_sidecar();
        [$this->course, $this->student] = $this->create_course_with_users();
        $this->other = $this->getDataGenerator()->create_and_enrol($this->course, 'student');
        $this->quiz = $this->create_quiz($this->course);
        $this->quiz2 = $this->create_quiz($this->course);
        foreach ([$this->student, $this->other] as $s => $user) {
            foreach ([$this->quiz, $this->quiz2] as $q => $quiz) {
                $attempt = $this->start_attempt($quiz, $user);
                $_POST['sesskey'] = sesskey();
                $answer = external_api::call_external_function('quizaccess_proctorpy_upload_camshot', [
                    'attemptid' => $attempt->id, 'takenat' => (int) (microtime(true) * 1000), 'clientshotid' => 'shot1',
                    'kind' => 'attempt', 'image' => base64_encode(self::image_bytes())], true);
                $this->assertFalse($answer['error'], json_encode($answer));
                $this->attempts[$s][$q] = $attempt;
            }
        }
        $this->client->image(
            'PUT',
            api::reference((int) $this->student->id),
            [],
            file_get_contents($this->faces_folder() . '/obama/obama-480p.jpg'),
            'image/jpeg'
        );
        $this->setAdminUser();
    }

    /**
     * The module context of a quiz.
     *
     * @param \stdClass $quiz the quiz
     * @return \context_module
     */
    private static function context(\stdClass $quiz): \context_module {
        return \context_module::instance($quiz->cmid);
    }

    /**
     * Whether the sidecar still holds an attempt.
     *
     * @param \stdClass $attempt row of quiz_attempts
     * @return bool
     */
    private function sidecar_has(\stdClass $attempt): bool {
        try {
            $this->sidecar_attempt($this->client, $attempt->id);
            return true;
        } catch (sidecar_exception $e) {
            $this->assertSame(404, $e->status, $e->getMessage());
            return false;
        }
    }

    /**
     * Which of the four attempts the sidecar still holds, as [student][quiz] booleans.
     *
     * @return array
     */
    private function held(): array {
        $held = [];
        foreach ($this->attempts as $s => $byquiz) {
            foreach ($byquiz as $q => $attempt) {
                $held[$s][$q] = $this->sidecar_has($attempt);
            }
        }
        return $held;
    }

    /**
     * The metadata declares the settings table, the identity checks' outcomes and everything sent to the sidecar,
     * with existing strings.
     */
    public function test_get_metadata(): void {
        $items = provider::get_metadata(new collection('quizaccess_proctorpy'))->get_collection();
        $this->assertCount(4, $items);
        [$table, $idcheck, $alert, $sidecar] = $items;
        $this->assertInstanceOf(database_table::class, $table);
        $this->assertSame('quizaccess_proctorpy', $table->get_name());
        $this->assertInstanceOf(database_table::class, $idcheck);
        $this->assertSame('quizaccess_proctorpy_idcheck', $idcheck->get_name());
        $this->assertEqualsCanonicalizing(
            ['attemptid', 'outcome', 'waivedby', 'timecreated'],
            array_keys($idcheck->get_privacy_fields())
        );
        $this->assertInstanceOf(database_table::class, $alert);
        $this->assertSame('quizaccess_proctorpy_alert', $alert->get_name());
        $this->assertEqualsCanonicalizing(
            ['attemptid', 'score', 'recipients', 'timecreated'],
            array_keys($alert->get_privacy_fields())
        );
        $this->assertInstanceOf(external_location::class, $sidecar);
        $this->assertSame('sidecar', $sidecar->get_name());
        $this->assertEqualsCanonicalizing(
            ['userid', 'fullname', 'attempt', 'camshots', 'referencephoto', 'faceencodings',
            'events', 'analysis', 'score', 'review', 'reviewer', 'mentions', 'auditlog'],
            array_keys($sidecar->get_privacy_fields())
        );
        foreach ($items as $item) {
            $this->assertTrue(get_string_manager()->string_exists($item->get_summary(), 'quizaccess_proctorpy'));
            foreach ($item->get_privacy_fields() as $stringid) {
                $this->assertTrue(get_string_manager()->string_exists($stringid, 'quizaccess_proctorpy'), $stringid);
            }
        }
    }

    /**
     * A user's contexts are the proctored quizzes they attempted, not other quizzes, and their user context.
     */
    public function test_get_contexts_for_userid(): void {
        $plain = $this->create_quiz($this->course, null);
        $sink = $this->redirectEvents();
        $this->start_attempt($plain, $this->student);
        $sink->close();
        $contexts = provider::get_contexts_for_userid($this->student->id)->get_contextids();
        $this->assertEqualsCanonicalizing([self::context($this->quiz)->id, self::context($this->quiz2)->id,
            \context_user::instance($this->student->id)->id], $contexts);
        $nobody = $this->getDataGenerator()->create_user();
        $this->assertSame([], provider::get_contexts_for_userid($nobody->id)->get_contextids());
    }

    /**
     * The users of a proctored quiz's context are those who attempted it; other contexts have none.
     */
    public function test_get_users_in_context(): void {
        $userlist = new userlist(self::context($this->quiz), 'quizaccess_proctorpy');
        provider::get_users_in_context($userlist);
        $this->assertEqualsCanonicalizing([$this->student->id, $this->other->id], $userlist->get_userids());

        $plain = $this->create_quiz($this->course, null);
        $userlist = new userlist(self::context($plain), 'quizaccess_proctorpy');
        provider::get_users_in_context($userlist);
        $this->assertSame([], $userlist->get_userids());

        $userlist = new userlist(\context_course::instance($this->course->id), 'quizaccess_proctorpy');
        provider::get_users_in_context($userlist);
        $this->assertSame([], $userlist->get_userids());

        $userlist = new userlist(\context_user::instance($this->student->id), 'quizaccess_proctorpy');
        provider::get_users_in_context($userlist);
        $this->assertEquals([$this->student->id], $userlist->get_userids());
        $teacher = $this->getDataGenerator()->create_and_enrol($this->course, 'editingteacher');
        $userlist = new userlist(\context_user::instance($teacher->id), 'quizaccess_proctorpy');
        provider::get_users_in_context($userlist);
        $this->assertSame([], $userlist->get_userids());
    }

    /**
     * The archive the export wrote in a context, null if none.
     *
     * @param \context $context the context
     * @return string|null ZIP bytes
     */
    private static function exported_zip(\context $context): ?string {
        return writer::with_context($context)->get_custom_file(
            [get_string('pluginname', 'quizaccess_proctorpy')],
            'proctoring-data.zip'
        );
    }

    /**
     * The names of the files in a ZIP archive.
     *
     * @param string $zip ZIP bytes
     * @return string[]
     */
    private static function zip_names(string $zip): array {
        $path = make_request_directory() . '/export.zip';
        file_put_contents($path, $zip);
        $archive = new \ZipArchive();
        self::assertTrue($archive->open($path));
        $names = [];
        for ($i = 0; $i < $archive->numFiles; $i++) {
            $names[] = $archive->getNameIndex($i);
        }
        $archive->close();
        return $names;
    }

    /**
     * The attempt folders an archive holds, as attempt ids.
     *
     * @param string $zip ZIP bytes
     * @return int[] sorted
     */
    private static function attempts_in(string $zip): array {
        $ids = [];
        foreach (self::zip_names($zip) as $name) {
            if (preg_match('~/attempt-(\d+)/~', $name, $m)) {
                $ids[(int) $m[1]] = (int) $m[1];
            }
        }
        sort($ids);
        return array_values($ids);
    }

    /**
     * Each quiz context gets what the sidecar holds of the user's attempt at that quiz, the user context the
     * reference photos, and nothing of the other student.
     */
    public function test_export_user_data(): void {
        $this->export_all_data_for_user($this->student->id, 'quizaccess_proctorpy');
        foreach ([$this->quiz, $this->quiz2] as $q => $quiz) {
            $zip = self::exported_zip(self::context($quiz));
            $this->assertStringStartsWith("PK\x03\x04", $zip);
            $this->assertSame([(int) $this->attempts[0][$q]->id], self::attempts_in($zip));
            $this->assertSame([], preg_grep('~^reference/~', self::zip_names($zip)));
        }
        $zip = self::exported_zip(\context_user::instance($this->student->id));
        $this->assertSame([], self::attempts_in($zip), 'The reference photos belong to no quiz');
        $this->assertContains('user.json', self::zip_names($zip));
        $this->assertCount(1, preg_grep('~^reference/profile_.*\.png$~', self::zip_names($zip)));
    }

    /**
     * Only the approved contexts are exported: one quiz approved, the other quiz and the user context get nothing.
     */
    public function test_export_user_data_of_approved_contexts_only(): void {
        provider::export_user_data(new approved_contextlist(
            $this->student,
            'quizaccess_proctorpy',
            [self::context($this->quiz2)->id]
        ));
        $this->assertSame([(int) $this->attempts[0][1]->id], self::attempts_in(self::exported_zip(self::context($this->quiz2))));
        $this->assertFalse(writer::with_context(self::context($this->quiz))->has_any_data());
        $this->assertFalse(writer::with_context(\context_user::instance($this->student->id))->has_any_data());
    }

    /**
     * A user whose sidecar data is already gone (retention) exports nothing instead of failing the request.
     */
    public function test_export_user_data_when_the_sidecar_holds_nothing(): void {
        $this->client->call('DELETE', api::user((int) $this->student->id));
        $this->export_all_data_for_user($this->student->id, 'quizaccess_proctorpy');
        $contexts = [self::context($this->quiz), self::context($this->quiz2), \context_user::instance($this->student->id)];
        foreach ($contexts as $context) {
            $this->assertFalse(writer::with_context($context)->has_any_data());
        }
    }

    /**
     * Deleting a user's data in one quiz removes their attempt there from the sidecar, nothing else.
     */
    public function test_delete_data_for_user(): void {
        provider::delete_data_for_user(new approved_contextlist(
            $this->student,
            'quizaccess_proctorpy',
            [self::context($this->quiz)->id]
        ));
        $this->assertSame([[false, true], [true, true]], $this->held());
    }

    /**
     * Deleting in the user context removes the reference photo and keeps every attempt; deleting in a user
     * context the sidecar does not know, or in another user's context, does nothing.
     */
    public function test_delete_in_the_user_context(): void {
        $context = \context_user::instance($this->student->id);
        provider::delete_data_for_user(new approved_contextlist(
            $this->student,
            'quizaccess_proctorpy',
            [$context->id, \context_user::instance($this->other->id)->id]
        ));
        provider::delete_data_for_users(new approved_userlist($context, 'quizaccess_proctorpy', [$this->student->id]));
        provider::delete_data_for_all_users_in_context($context);
        $teacher = $this->getDataGenerator()->create_and_enrol($this->course, 'editingteacher');
        provider::delete_data_for_all_users_in_context(\context_user::instance($teacher->id));
        $this->assertSame([[true, true], [true, true]], $this->held());
        $zip = $this->client->call('GET', api::user_data((int) $this->student->id, ['references' => 1]))->body;
        $this->assertSame([], preg_grep('~^reference/~', self::zip_names($zip)), 'The profile photo is gone');
    }

    /**
     * Deleting a quiz context's data removes everyone's attempts at that quiz from the sidecar.
     */
    public function test_delete_data_for_all_users_in_context(): void {
        provider::delete_data_for_all_users_in_context(self::context($this->quiz2));
        $this->assertSame([[true, false], [true, false]], $this->held());
        provider::delete_data_for_all_users_in_context(\context_course::instance($this->course->id));
        $this->assertSame([[true, false], [true, false]], $this->held(), 'A course context is not a quiz');
    }

    /**
     * Deleting the data of chosen users in a quiz context removes only theirs.
     */
    public function test_delete_data_for_users(): void {
        provider::delete_data_for_users(new approved_userlist(
            self::context($this->quiz),
            'quizaccess_proctorpy',
            [$this->other->id]
        ));
        $this->assertSame([[true, true], [false, true]], $this->held());
    }

    /**
     * The user's contexts as the privacy manager gathers them, then deleted: the sidecar no longer knows the user.
     */
    public function test_delete_everything_of_a_user(): void {
        $contextlist = $this->get_contexts_for_userid($this->other->id, 'quizaccess_proctorpy');
        provider::delete_data_for_user(new approved_contextlist(
            $this->other,
            'quizaccess_proctorpy',
            $contextlist->get_contextids()
        ));
        $this->assertSame([[true, true], [false, false]], $this->held());
        try {
            $this->client->call('GET', api::user_data((int) $this->other->id));
            $this->fail('The sidecar still holds data about the user');
        } catch (sidecar_exception $e) {
            $this->assertSame('unknown_user', $e->errorcode, 'Nothing of the user is left');
        }
    }

    /**
     * Alerts recorded about each of the four attempts.
     */
    private function record_alerts(): void {
        global $DB;
        foreach ($this->attempts as $s => $byquiz) {
            foreach ($byquiz as $q => $attempt) {
                $DB->insert_record('quizaccess_proctorpy_alert', ['attemptid' => $attempt->id, 'score' => 12.5 + $s + $q,
                    'recipients' => 2, 'timecreated' => 1700000000]);
            }
        }
    }

    /**
     * Which of the four attempts still have their alert, as [student][quiz] booleans.
     *
     * @return array
     */
    private function alerted(): array {
        global $DB;
        $alerted = [];
        foreach ($this->attempts as $s => $byquiz) {
            foreach ($byquiz as $q => $attempt) {
                $alerted[$s][$q] = $DB->record_exists('quizaccess_proctorpy_alert', ['attemptid' => $attempt->id]);
            }
        }
        return $alerted;
    }

    /**
     * The alerts about a student's attempts are exported with that quiz's data, and no one else's.
     */
    public function test_export_alerts(): void {
        $this->record_alerts();
        $this->export_all_data_for_user($this->student->id, 'quizaccess_proctorpy');
        $path = [get_string('pluginname', 'quizaccess_proctorpy'), get_string('privacyalerts', 'quizaccess_proctorpy')];
        $exported = writer::with_context(self::context($this->quiz2))->get_data($path);
        $this->assertCount(1, $exported->alerts);
        $this->assertSame((int) $this->attempts[0][1]->id, $exported->alerts[0]['attempt']);
        $this->assertEquals(13.5, $exported->alerts[0]['score']);
        $this->assertSame(2, $exported->alerts[0]['recipients']);
    }

    /**
     * The alerts go with the attempts' data: a user's in one quiz, everyone's in a quiz, chosen users' in a quiz.
     */
    public function test_delete_alerts(): void {
        $this->record_alerts();
        provider::delete_data_for_user(new approved_contextlist(
            $this->student,
            'quizaccess_proctorpy',
            [self::context($this->quiz)->id]
        ));
        $this->assertSame([[false, true], [true, true]], $this->alerted());
        provider::delete_data_for_users(new approved_userlist(
            self::context($this->quiz2),
            'quizaccess_proctorpy',
            [$this->other->id]
        ));
        $this->assertSame([[false, true], [true, false]], $this->alerted());
        provider::delete_data_for_all_users_in_context(self::context($this->quiz));
        $this->assertSame([[false, true], [false, false]], $this->alerted());
    }

    /**
     * A teacher reviews the student's attempt at the first quiz, and the other student's identity photo at that quiz
     * shows the student's face, which the sidecar recognises in someone else's attempt.
     *
     * @return \stdClass the teacher
     */
    private function review_and_mention(): \stdClass {
        $teacher = $this->getDataGenerator()->create_and_enrol($this->course, 'editingteacher');
        $this->client->json('POST', api::review((int) $this->attempts[0][0]->id), ['conclusion' => 'rejected',
            'comment' => 'Someone else sat in', 'reviewer_id' => (int) $teacher->id, 'reviewer_name' => fullname($teacher)]);
        $faces = $this->faces_folder();
        $this->client->image(
            'PUT',
            api::reference((int) $this->other->id),
            [],
            file_get_contents($faces . '/biden/biden.jpg'),
            'image/jpeg'
        );
        $this->follow_identity_challenge($this->client, (int) $this->attempts[1][0]->id, (int) $this->other->id, 'identity1');
        $this->assertSame([(int) $this->student->id], $this->recognised($this->attempts[1][0]));
        return $teacher;
    }

    /**
     * The users whose faces the sidecar recognised in an attempt's camshots.
     *
     * @param \stdClass $attempt row of quiz_attempts
     * @return int[]
     */
    private function recognised(\stdClass $attempt): array {
        $ids = [];
        foreach ($this->sidecar_attempt($this->client, $attempt->id)['shots'] as $shot) {
            if (isset($shot['matched_user_id'])) {
                $ids[] = (int) $shot['matched_user_id'];
            }
        }
        return $ids;
    }

    /**
     * A reviewer's contexts are the quizzes where they reviewed an attempt, and a student's include a quiz where their
     * face was recognised in someone else's attempt though they have no attempt of their own left there.
     */
    public function test_reviewers_and_recognised_students_are_found(): void {
        global $DB;
        $teacher = $this->review_and_mention();
        $this->assertEquals([self::context($this->quiz)->id], provider::get_contexts_for_userid($teacher->id)->get_contextids());
        $userlist = new userlist(self::context($this->quiz), 'quizaccess_proctorpy');
        provider::get_users_in_context($userlist);
        $this->assertEqualsCanonicalizing([$this->student->id, $this->other->id, $teacher->id], $userlist->get_userids());
        $userlist = new userlist(self::context($this->quiz2), 'quizaccess_proctorpy');
        provider::get_users_in_context($userlist);
        $this->assertEqualsCanonicalizing([$this->student->id, $this->other->id], $userlist->get_userids());

        $DB->delete_records('quiz_attempts', ['id' => $this->attempts[0][0]->id]);
        $contexts = provider::get_contexts_for_userid($this->student->id)->get_contextids();
        $this->assertEqualsCanonicalizing([self::context($this->quiz)->id, self::context($this->quiz2)->id,
            \context_user::instance($this->student->id)->id], $contexts);
        $userlist = new userlist(self::context($this->quiz), 'quizaccess_proctorpy');
        provider::get_users_in_context($userlist);
        $this->assertContains((int) $this->student->id, array_map('intval', $userlist->get_userids()));
    }

    /**
     * The reviewer gets the reviews they recorded in the quiz, no archive of attempts; the recognised student gets
     * when their face was recognised, in that quiz only.
     */
    public function test_export_reviews_and_mentions(): void {
        $teacher = $this->review_and_mention();
        $plugin = get_string('pluginname', 'quizaccess_proctorpy');
        $this->export_all_data_for_user($teacher->id, 'quizaccess_proctorpy');
        $reviews = writer::with_context(self::context($this->quiz))->get_data(
            [$plugin, get_string('privacyreviews', 'quizaccess_proctorpy')]
        );
        $this->assertCount(1, $reviews->reviews);
        $this->assertSame((int) $this->attempts[0][0]->id, $reviews->reviews[0]['attempt']);
        $this->assertSame('rejected', $reviews->reviews[0]['conclusion']);
        $this->assertSame('Someone else sat in', $reviews->reviews[0]['comment']);
        $this->assertNull(self::exported_zip(self::context($this->quiz)));

        writer::reset();
        $this->export_all_data_for_user($this->student->id, 'quizaccess_proctorpy');
        $path = [$plugin, get_string('privacymentions', 'quizaccess_proctorpy')];
        $mentions = writer::with_context(self::context($this->quiz))->get_data($path);
        $this->assertCount(1, $mentions->mentions);
        $this->assertSame([], (array) writer::with_context(self::context($this->quiz2))->get_data($path));
        $this->assertSame([(int) $this->attempts[0][0]->id], self::attempts_in(self::exported_zip(self::context($this->quiz))));
    }

    /**
     * Deleting the reviewer's data leaves the conclusion and comment with the student's attempt without the reviewer's
     * name; deleting the recognised student's data in the quiz leaves the other student's camshot without naming them.
     */
    public function test_delete_reviews_and_mentions(): void {
        $teacher = $this->review_and_mention();
        $quizcontext = self::context($this->quiz);
        provider::delete_data_for_user(new approved_contextlist($teacher, 'quizaccess_proctorpy', [$quizcontext->id]));
        $review = $this->sidecar_attempt($this->client, $this->attempts[0][0]->id)['review'];
        $this->assertSame(
            ['rejected', 'Someone else sat in', null, ''],
            [$review['conclusion'], $review['comment'], $review['reviewer_id'], $review['reviewer_name']]
        );
        $this->assertSame([], provider::get_contexts_for_userid($teacher->id)->get_contextids());

        provider::delete_data_for_users(new approved_userlist(
            self::context($this->quiz),
            'quizaccess_proctorpy',
            [$this->student->id]
        ));
        $this->assertSame([[false, true], [true, true]], $this->held());
        $this->assertSame([], $this->recognised($this->attempts[1][0]), 'The other student\'s camshot no longer names them');
    }
}
