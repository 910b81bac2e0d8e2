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
 * Implementation of the proctorpy quiz access rule.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

use mod_quiz\form\preflight_check_form;
use mod_quiz\local\access_rule_base;
use mod_quiz\quiz_settings;
use quizaccess_proctorpy\direct_upload;
use quizaccess_proctorpy\local\consent_text;
use quizaccess_proctorpy\local\flag_alert;
use quizaccess_proctorpy\local\identity_step;
use quizaccess_proctorpy\local\live_view;
use quizaccess_proctorpy\observer;
use quizaccess_proctorpy\proctoring_settings;

/**
 * Webcam proctoring of a quiz: settings, consent and camera check, capture during the attempt.
 *
 * Applies only to quizzes with proctoring enabled; for every other quiz make() returns null and
 * the rule is absent.
 */
class quizaccess_proctorpy extends access_rule_base {
    /** Pages of an attempt in progress, where camshots are taken. */
    const CAPTURE_PAGES = ['mod-quiz-attempt', 'mod-quiz-summary'];

    /**
     * The rule for a proctored quiz, null for any other.
     *
     * @param quiz_settings $quizobj the quiz
     * @param int $timenow now
     * @param bool $canignoretimelimits unused here
     * @return self|null
     */
    public static function make(quiz_settings $quizobj, $timenow, $canignoretimelimits) {
        if (!proctoring_settings::is_enabled($quizobj->get_quiz())) {
            return null;
        }
        return new self($quizobj, $timenow);
    }

    /**
     * Whether the current user takes this quiz without proctoring.
     *
     * @return bool
     */
    private function is_exempt(): bool {
        return has_capability('quizaccess/proctorpy:bypass', $this->quizobj->get_context());
    }

    /**
     * Whether consent and the camera check are still to be given in this session for this quiz.
     *
     * @return bool
     */
    private function consent_pending(): bool {
        global $SESSION;
        return empty($SESSION->quizaccess_proctorpy_consent[$this->quiz->id]);
    }

    /**
     * Consent and camera check are asked once per session and quiz; an attempt of a quiz with an identity
     * check asks for its photo, once it has started, until the step is over. An attempt Moodle 5.0+ created
     * ahead of the quiz comes here before it starts: it gets the consent and camera check, then its start.
     *
     * Moodle's attempt and summary pages, and its web services, send the student back to this check while
     * it is required: no question is shown before the identity step has ended on the server.
     *
     * @param int|null $attemptid current attempt, if any
     * @return bool
     */
    public function is_preflight_check_required($attemptid) {
        if ($this->is_exempt()) {
            return false;
        }
        return $this->consent_pending() || ($attemptid && identity_step::pending($this->quiz, (int) $attemptid));
    }

    /**
     * Consent text with a live camera preview and the consent checkbox; for an attempt at its identity
     * step, the photo button and the sidecar's answer.
     *
     * The start button stays disabled until the camera delivers a frame (preflight module);
     * the hidden `proctorpy_camera` field records that for validation.
     *
     * @param preflight_check_form $quizform the form
     * @param MoodleQuickForm $mform its QuickForm
     * @param int|null $attemptid current attempt, if any
     */
    public function add_preflight_check_form_fields(preflight_check_form $quizform, MoodleQuickForm $mform, $attemptid) {
        global $OUTPUT, $PAGE;
        $consent = $this->consent_pending();
        $identity = $attemptid && identity_step::pending($this->quiz, (int) $attemptid);
        $context = [
            'identitynotice' => $consent && identity_step::required($this->quiz),
            'identity' => $identity,
        ];
        if ($consent) {
            $context['consent'] = format_text(
                consent_text::for_quiz($this->quiz),
                FORMAT_HTML,
                ['context' => $this->quizobj->get_context()]
            );
        }
        $header = $consent ? 'preflightheader' : 'identitytitle';
        $mform->addElement('header', 'proctorpyheader', get_string($header, 'quizaccess_proctorpy'));
        $mform->addElement('html', $OUTPUT->render_from_template('quizaccess_proctorpy/preflight', $context));
        if ($consent) {
            $mform->addElement('hidden', 'proctorpy_camera', 0);
            $mform->setType('proctorpy_camera', PARAM_INT);
            $mform->addElement('checkbox', 'proctorpy_consent', '', get_string('consentagree', 'quizaccess_proctorpy'));
        }
        if ($identity) {
            // Carries the error when the form is sent before the step is over.
            $mform->addElement('static', 'proctorpy_identity', '', '');
        }
        $PAGE->requires->js_call_amd(
            'quizaccess_proctorpy/preflight',
            'init',
            [$identity ? (int) $attemptid : 0, (int) $this->quiz->proctorpy_imagewidth, self::server_time()]
        );
    }

    /**
     * Consent given and a camera frame seen; the identity step over on the server.
     *
     * @param array $data submitted data
     * @param array $files submitted files
     * @param array $errors errors so far
     * @param int|null $attemptid current attempt, if any
     * @return array errors
     */
    public function validate_preflight_check($data, $files, $errors, $attemptid) {
        if ($this->consent_pending()) {
            if (empty($data['proctorpy_consent'])) {
                $errors['proctorpy_consent'] = get_string('err_consent', 'quizaccess_proctorpy');
            }
            if (empty($data['proctorpy_camera'])) {
                $errors['proctorpy_consent'] = get_string('err_nocamera', 'quizaccess_proctorpy');
            }
        }
        if ($attemptid && identity_step::pending($this->quiz, (int) $attemptid)) {
            $errors['proctorpy_identity'] = get_string('err_identitypending', 'quizaccess_proctorpy');
        }
        return $errors;
    }

    /**
     * Remember the consent for this session.
     *
     * @param int|null $attemptid current attempt, if any
     */
    public function notify_preflight_check_passed($attemptid) {
        global $SESSION;
        $SESSION->quizaccess_proctorpy_consent[$this->quiz->id] = true;
    }

    /**
     * Ask for consent and a camera check again for the next attempt.
     */
    public function current_attempt_finished() {
        global $SESSION;
        unset($SESSION->quizaccess_proctorpy_consent[$this->quiz->id]);
    }

    /**
     * Tell students the quiz is proctored; give report viewers the report button and, while attempts are in
     * progress, the live view's beside it.
     *
     * @return array messages (HTML)
     */
    public function description() {
        $messages = [get_string('proctorednotice', 'quizaccess_proctorpy')];
        $context = $this->quizobj->get_context();
        if (has_capability('quizaccess/proctorpy:viewreport', $context)) {
            $params = ['cmid' => $this->quizobj->get_cmid()];
            $buttons = html_writer::link(
                new moodle_url('/mod/quiz/accessrule/proctorpy/report.php', $params),
                get_string('viewreport', 'quizaccess_proctorpy'),
                ['class' => 'btn btn-secondary']
            );
            if (live_view::has_attempts_in_progress((int) $this->quiz->id)) {
                $buttons .= ' ' . html_writer::link(
                    new moodle_url('/mod/quiz/accessrule/proctorpy/live.php', $params),
                    get_string('liveview', 'quizaccess_proctorpy'),
                    ['class' => 'btn btn-secondary']
                );
            }
            $messages[] = $buttons;
        }
        return $messages;
    }

    /**
     * Start the capture module on the pages of an attempt in progress.
     *
     * @param moodle_page $page the page being set up
     */
    public function setup_attempt_page($page) {
        global $CFG, $DB, $USER;
        if (!in_array($page->pagetype, self::CAPTURE_PAGES, true) || $this->is_exempt()) {
            return;
        }
        $attemptid = optional_param('attempt', 0, PARAM_INT);
        $attempt = $attemptid ? $DB->get_record('quiz_attempts', ['id' => $attemptid, 'quiz' => $this->quiz->id,
            'userid' => $USER->id, 'state' => mod_quiz\quiz_attempt::IN_PROGRESS], 'id, timestart') : false;
        if (!$attempt) {
            return;
        }
        $page->requires->js_call_amd('quizaccess_proctorpy/capture', 'init', [[
            'attemptid' => (int) $attempt->id,
            // The last page before submitting: camshots still queued are told there.
            'summary' => $page->pagetype === 'mod-quiz-summary',
            'intervalmin' => (int) $this->quiz->proctorpy_intervalmin,
            'intervalmax' => (int) $this->quiz->proctorpy_intervalmax,
            'width' => (int) $this->quiz->proctorpy_imagewidth,
            'servertime' => self::server_time(),
            // Null in forwarded mode; in direct mode the upload token, minted for this page.
            'direct' => direct_upload::capture_config(
                get_config('quizaccess_proctorpy'),
                $CFG->wwwroot,
                (int) $attempt->id,
                (int) $USER->id,
                (int) $attempt->timestart,
                (int) $this->quiz->timelimit,
                time()
            ),
        ]]);
    }

    /**
     * Settings in the quiz form.
     *
     * @param mod_quiz_mod_form $quizform the quiz form
     * @param MoodleQuickForm $mform its QuickForm
     */
    public static function add_settings_form_fields(mod_quiz_mod_form $quizform, MoodleQuickForm $mform) {
        $component = 'quizaccess_proctorpy';
        $defaults = proctoring_settings::defaults(get_config($component));
        $mform->addElement('header', 'proctorpyheader', get_string('pluginname', $component));

        $mform->addElement('selectyesno', 'proctorpy_enabled', get_string('enabled', $component));
        $mform->addHelpButton('proctorpy_enabled', 'enabled', $component);
        $mform->setDefault('proctorpy_enabled', 0);

        $fields = ['intervalmin', 'intervalmax', 'imagewidth', 'threshold', 'retentiondays'];
        foreach ($fields as $name) {
            // Free text, checked in validate_settings_form_fields() with messages that name the limits.
            $mform->addElement('text', 'proctorpy_' . $name, get_string($name, $component), ['size' => 6]);
            $mform->setType('proctorpy_' . $name, PARAM_RAW_TRIMMED);
            $mform->addHelpButton('proctorpy_' . $name, $name, $component);
            if ($defaults[$name] !== null) {
                $mform->setDefault('proctorpy_' . $name, $defaults[$name]);
            }
        }
        $choices = [];
        foreach (proctoring_settings::IDENTITY_CHECKS as $choice) {
            $choices[$choice] = get_string('identitycheck_' . $choice, $component);
        }
        $mform->addElement('select', 'proctorpy_identitycheck', get_string('identitycheck', $component), $choices);
        $mform->addHelpButton('proctorpy_identitycheck', 'identitycheck', $component);
        $mform->setDefault('proctorpy_identitycheck', 'none');

        $mform->addElement('selectyesno', 'proctorpy_alerts', get_string('alerts', $component));
        $mform->addHelpButton('proctorpy_alerts', 'alerts', $component);
        $mform->setDefault('proctorpy_alerts', $defaults['alerts']);

        foreach (array_merge($fields, ['identitycheck', 'alerts']) as $name) {
            $mform->hideIf('proctorpy_' . $name, 'proctorpy_enabled', 'eq', 0);
        }
    }

    /**
     * Validate the quiz form's proctoring settings.
     *
     * @param array $errors errors so far
     * @param array $data submitted data
     * @param array $files submitted files
     * @param mod_quiz_mod_form $quizform the form
     * @return array errors
     */
    public static function validate_settings_form_fields(array $errors, array $data, $files, mod_quiz_mod_form $quizform) {
        foreach (proctoring_settings::validate($data) as $field => [$stringid, $a]) {
            $errors[$field] = get_string($stringid, 'quizaccess_proctorpy', $a);
        }
        return $errors;
    }

    /**
     * Save the quiz form's proctoring settings.
     *
     * @param stdClass $quiz form data with the quiz id
     */
    public static function save_settings($quiz) {
        global $DB;
        if (!isset($quiz->proctorpy_enabled)) {
            // Saved without the quiz form (web service, restore): nothing to change.
            return;
        }
        $existing = $DB->get_record('quizaccess_proctorpy', ['quizid' => $quiz->id]);
        if (empty($quiz->proctorpy_enabled)) {
            // The other fields were hidden and not validated: keep the stored ones.
            if ($existing && $existing->enabled) {
                $DB->set_field('quizaccess_proctorpy', 'enabled', 0, ['id' => $existing->id]);
                observer::proctoring_switched_off((int) $quiz->id);
            }
            return;
        }
        $record = proctoring_settings::to_record($quiz, proctoring_settings::defaults(get_config('quizaccess_proctorpy')));
        $record->timemodified = time();
        if ($existing) {
            $record->id = $existing->id;
            $DB->update_record('quizaccess_proctorpy', $record);
        } else {
            $DB->insert_record('quizaccess_proctorpy', $record);
        }
    }

    /**
     * Delete a quiz's settings with the quiz.
     *
     * @param stdClass $quiz the quiz
     */
    public static function delete_settings($quiz) {
        global $DB;
        $DB->delete_records('quizaccess_proctorpy', ['quizid' => $quiz->id]);
        // The quiz's attempts are deleted first, without an event each: their identity checks go here.
        $DB->delete_records_select(
            'quizaccess_proctorpy_idcheck',
            'NOT EXISTS (SELECT 1 FROM {quiz_attempts} qa WHERE qa.id = attemptid)'
        );
        flag_alert::forget_deleted_attempts();
    }

    /**
     * The server's clock for the capture scripts, which send their times by it (Camera.serverClock).
     *
     * @return int unix milliseconds
     */
    private static function server_time(): int {
        return (int) round(microtime(true) * 1000);
    }

    /**
     * Load the settings with the quiz; quizzes without a row get the site defaults, proctoring off.
     *
     * @param int $quizid the quiz id
     * @return array fields, joins, params
     */
    public static function get_settings_sql($quizid) {
        $defaults = proctoring_settings::defaults(get_config('quizaccess_proctorpy'));
        return [
            'COALESCE(proctorpy.enabled, 0) AS proctorpy_enabled, '
                . 'COALESCE(proctorpy.intervalmin, :proctorpyintervalmin) AS proctorpy_intervalmin, '
                . 'COALESCE(proctorpy.intervalmax, :proctorpyintervalmax) AS proctorpy_intervalmax, '
                . 'COALESCE(proctorpy.imagewidth, :proctorpyimagewidth) AS proctorpy_imagewidth, '
                . "COALESCE(proctorpy.identitycheck, 'none') AS proctorpy_identitycheck, "
                . 'COALESCE(proctorpy.threshold, :proctorpythreshold) AS proctorpy_threshold, '
                . 'proctorpy.retentiondays AS proctorpy_retentiondays, '
                . 'COALESCE(proctorpy.alerts, 1) AS proctorpy_alerts',
            'LEFT JOIN {quizaccess_proctorpy} proctorpy ON proctorpy.quizid = quiz.id',
            [
                'proctorpyintervalmin' => $defaults['intervalmin'],
                'proctorpyintervalmax' => $defaults['intervalmax'],
                'proctorpyimagewidth' => $defaults['imagewidth'],
                'proctorpythreshold' => $defaults['threshold'],
            ],
        ];
    }
}
