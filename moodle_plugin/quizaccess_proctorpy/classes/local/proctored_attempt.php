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
 * A quiz attempt under proctoring, and what the plugin tells the sidecar about it.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\local;

use mod_quiz\quiz_attempt;
use mod_quiz\quiz_settings;
use quizaccess_proctorpy\api;
use quizaccess_proctorpy\camshot_image;
use quizaccess_proctorpy\proctoring_settings;
use quizaccess_proctorpy\sidecar_client;
use quizaccess_proctorpy\sidecar_exception;
use quizaccess_proctorpy\vocabulary;

/**
 * One attempt with its quiz, course and context, checked for the current user.
 */
class proctored_attempt {
    /** @var \stdClass row of quiz_attempts */
    public $attempt;
    /** @var quiz_settings|null the quiz with its proctoring settings, loaded when first needed */
    private $quizobj = null;
    /** @var sidecar_client client of the configured sidecar */
    private $client;

    /**
     * An attempt, its quiz loaded when first needed.
     *
     * @param \stdClass $attempt row of quiz_attempts
     * @param sidecar_client $client sidecar client
     */
    public function __construct(\stdClass $attempt, sidecar_client $client) {
        $this->attempt = $attempt;
        $this->client = $client;
    }

    /**
     * Load an attempt by id.
     *
     * @param int $attemptid quiz attempt id
     * @param sidecar_client|null $client the configured client when null
     * @return self
     */
    public static function load(int $attemptid, ?sidecar_client $client = null): self {
        global $DB;
        $attempt = $DB->get_record('quiz_attempts', ['id' => $attemptid], '*', MUST_EXIST);
        return new self($attempt, $client ?? sidecar_client::from_config());
    }

    /**
     * Load an attempt the current user is taking now, for the capture module's calls.
     *
     * Checks login to the quiz's course module, that the attempt is the user's own, that it is
     * in progress, and that its quiz is proctored. A camshot arrives every few seconds from every
     * examinee: one query reads what these checks need, and the quiz with all its access rules'
     * settings and the user's overrides (which no check reads) is loaded only when a caller asks.
     *
     * @param int $attemptid quiz attempt id
     * @return self
     * @throws \moodle_exception when any of those does not hold
     */
    public static function for_current_user(int $attemptid): self {
        global $DB, $USER;
        $found = $DB->get_record_sql(
            "SELECT qa.*, cm.id AS proctorpy_cmid, COALESCE(p.enabled, 0) AS proctorpy_enabled, "
                . \context_helper::get_preload_record_columns_sql('ctx') . "
               FROM {quiz_attempts} qa
               JOIN {quiz} q ON q.id = qa.quiz
               JOIN {modules} m ON m.name = 'quiz'
               JOIN {course_modules} cm ON cm.module = m.id AND cm.instance = q.id AND cm.course = q.course
               JOIN {context} ctx ON ctx.instanceid = cm.id AND ctx.contextlevel = :contextlevel
          LEFT JOIN {quizaccess_proctorpy} p ON p.quizid = q.id
              WHERE qa.id = :attemptid",
            ['attemptid' => $attemptid, 'contextlevel' => CONTEXT_MODULE],
            MUST_EXIST
        );
        // The quiz's context comes with the attempt; the preload leaves the attempt's own fields.
        \context_helper::preload_from_record($found);
        $cmid = (int) $found->proctorpy_cmid;
        $enabled = (bool) $found->proctorpy_enabled;
        unset($found->proctorpy_cmid, $found->proctorpy_enabled);
        // Login to the course module: enrolled, course and quiz visible to the user, the quiz's availability met.
        \core_external\external_api::validate_context(\context_module::instance($cmid));
        if ((int) $found->userid !== (int) $USER->id) {
            throw new \moodle_exception('err_notyourattempt', 'quizaccess_proctorpy');
        }
        if ($found->state !== quiz_attempt::IN_PROGRESS) {
            throw new \moodle_exception('err_attemptnotinprogress', 'quizaccess_proctorpy');
        }
        if (!$enabled) {
            throw new \moodle_exception('err_notproctored', 'quizaccess_proctorpy');
        }
        return new self($found, sidecar_client::from_config());
    }

    /**
     * The attempt's quiz, with its proctoring settings and the owner's overrides.
     *
     * @return quiz_settings
     */
    public function quiz_settings(): quiz_settings {
        if ($this->quizobj === null) {
            $this->quizobj = quiz_settings::create((int) $this->attempt->quiz, (int) $this->attempt->userid);
        }
        return $this->quizobj;
    }

    /**
     * Whether the attempt's owner is exempt from proctoring in this quiz.
     *
     * @return bool
     */
    public function is_exempt(): bool {
        return has_capability('quizaccess/proctorpy:bypass', $this->quiz_settings()->get_context(), $this->attempt->userid);
    }

    /**
     * Register the attempt with the sidecar (idempotent) and send the owner's reference photo.
     *
     * @throws sidecar_exception
     */
    public function register(): void {
        global $DB;
        $user = $DB->get_record('user', ['id' => $this->attempt->userid], '*', MUST_EXIST);
        $quiz = $this->quiz_settings()->get_quiz();
        $course = $this->quiz_settings()->get_course();
        $context = $this->quiz_settings()->get_context();
        $body = [
            'user_id' => (int) $user->id,
            'user_fullname' => fullname($user),
            'course_id' => (int) $course->id,
            'course_name' => format_string($course->fullname, true, ['context' => $context]),
            'quiz_id' => (int) $quiz->id,
            'cm_id' => (int) $this->quiz_settings()->get_cmid(),
            'quiz_name' => format_string($quiz->name, true, ['context' => $context]),
            'started_at' => (int) $this->attempt->timestart,
        ] + proctoring_settings::snapshot($quiz);
        $this->client->json('PUT', api::attempt((int) $this->attempt->id), $body);
        $this->send_reference_photo($user);
    }

    /**
     * Send the user's profile picture as reference photo, when there is one, with when it became their picture:
     * the sidecar tells a recent change, or another face, apart from the picture it had.
     *
     * A photo without exactly one face is refused by the sidecar (422); the attempt goes on and
     * the report says there was no usable reference.
     *
     * @param \stdClass $user the attempt's owner
     */
    private function send_reference_photo(\stdClass $user): void {
        if (empty($user->picture)) {
            return;
        }
        $fs = get_file_storage();
        $usercontext = \context_user::instance($user->id);
        foreach (['f3.png', 'f3.jpg', 'f1.png', 'f1.jpg'] as $name) {
            $file = $fs->get_file($usercontext->id, 'user', 'icon', 0, '/', $name);
            if ($file) {
                try {
                    $this->client->image(
                        'PUT',
                        api::reference((int) $user->id),
                        ['changed_at' => (int) $file->get_timemodified()],
                        $file->get_content(),
                        $file->get_mimetype()
                    );
                } catch (sidecar_exception $e) {
                    if ($e->status !== 422) {
                        throw $e;
                    }
                }
                return;
            }
        }
    }

    /**
     * Forward a camshot, registering the attempt first if the sidecar does not know it yet.
     *
     * @param camshot_image $image checked image
     * @param int $takenat unix milliseconds
     * @param string $clientshotid idempotency key from the browser
     * @param string $kind attempt (the only kind the capture routes take)
     * @return array the sidecar's answer
     * @throws sidecar_exception
     */
    public function forward_camshot(camshot_image $image, int $takenat, string $clientshotid, string $kind): array {
        $fields = $this->owner_fields() + [
            'taken_at' => $this->checked_time($takenat, 'takenat'),
            'client_shot_id' => $clientshotid,
            'kind' => $kind,
        ];
        return $this->registered(function () use ($image, $fields) {
            return $this->client->image('POST', api::camshots(), $fields, $image->bytes, $image->mimetype);
        });
    }

    /**
     * Forward a browser event.
     *
     * @param string $type event type
     * @param int $at unix milliseconds
     * @param string $clienteventid idempotency key from the browser
     * @return array the sidecar's answer
     * @throws sidecar_exception
     */
    public function forward_event(string $type, int $at, string $clienteventid): array {
        $body = $this->owner_fields() + [
            'type' => $type,
            'at' => $this->checked_time($at, 'at'),
            'client_event_id' => $clienteventid,
        ];
        return $this->registered(function () use ($body) {
            return $this->client->json('POST', api::events(), $body);
        });
    }

    /**
     * Have the sidecar draw the liveness challenge the student follows at the next identity check.
     *
     * @return array id, kind, instruction, frames, seconds, expires_at
     * @throws sidecar_exception
     */
    public function identity_challenge(): array {
        return $this->registered(function () {
            return $this->client->json(
                'POST',
                api::identity_challenge((int) $this->attempt->id),
                ['user_id' => (int) $this->attempt->userid]
            );
        });
    }

    /**
     * Have the sidecar check the frames taken while the student followed the challenge.
     *
     * @param camshot_image[] $frames checked images
     * @param int $takenat unix milliseconds
     * @param string $clientshotid idempotency key from the browser
     * @param string $challengeid the challenge the student followed
     * @return array passed, message, refusals_left and the verdict of the photo kept
     * @throws sidecar_exception
     */
    public function check_identity(array $frames, int $takenat, string $clientshotid, string $challengeid): array {
        $fields = [
            'user_id' => (int) $this->attempt->userid,
            'taken_at' => $this->checked_time($takenat, 'takenat'),
            'client_shot_id' => $clientshotid,
            'challenge_id' => $challengeid,
        ];
        return $this->registered(function () use ($frames, $fields) {
            return $this->client->images('POST', api::identity((int) $this->attempt->id), $fields, 'frame', $frames);
        });
    }

    /**
     * A time the browser sent, refused when it lies outside the attempt's possible span: from
     * vocabulary::CAPTURE_EARLIEST_BEFORE_START before the attempt started to vocabulary::CAPTURE_LATEST_AHEAD
     * past the server's clock. The browser chooses it, so no forged time reaches the sidecar's reports.
     *
     * @param int $ms unix milliseconds
     * @param string $name the parameter's name, for the message
     * @return int the time
     * @throws \invalid_parameter_exception
     */
    public function checked_time(int $ms, string $name): int {
        $earliest = ((int) $this->attempt->timestart - vocabulary::CAPTURE_EARLIEST_BEFORE_START) * 1000;
        $latest = (time() + vocabulary::CAPTURE_LATEST_AHEAD) * 1000;
        if ($ms < $earliest || $ms > $latest) {
            throw new \invalid_parameter_exception("$name must lie between $earliest and $latest (unix milliseconds: "
                . "from shortly before the attempt started to the server's clock), got $ms");
        }
        return $ms;
    }

    /**
     * Run a call; if the sidecar does not know the attempt (registration failed at start,
     * or its data was purged), register it and try once more.
     *
     * @param callable $call the call
     * @return array its answer
     * @throws sidecar_exception
     */
    private function registered(callable $call): array {
        try {
            return $call();
        } catch (sidecar_exception $e) {
            if ($e->errorcode !== 'unknown_attempt') {
                throw $e;
            }
            $this->register();
            return $call();
        }
    }

    /**
     * Fields naming the attempt and its owner.
     *
     * @return array attempt_id, user_id
     */
    private function owner_fields(): array {
        return ['attempt_id' => (int) $this->attempt->id, 'user_id' => (int) $this->attempt->userid];
    }
}
