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
 * Finds the attempts in progress that the sidecar has flagged.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

namespace quizaccess_proctorpy\task;

use quizaccess_proctorpy\api;
use quizaccess_proctorpy\local\flag_alert;
use quizaccess_proctorpy\sidecar_client;
use quizaccess_proctorpy\sidecar_exception;

/**
 * Every few minutes, for each alerting quiz with attempts in progress, asks the sidecar's live answer (one call
 * per quiz, not audited) which attempts are below the threshold, and queues an alert for each one not alerted yet.
 */
class watch_flagged_attempts extends \core\task\scheduled_task {
    /**
     * Name shown in the task list.
     *
     * @return string
     */
    public function get_name() {
        return get_string('task_watchflaggedattempts', 'quizaccess_proctorpy');
    }

    /**
     * Ask, quiz by quiz; a quiz the sidecar cannot answer for now is asked again at the next run.
     */
    public function execute() {
        global $DB;
        if (empty(get_config('quizaccess_proctorpy', 'sidecarurl'))) {
            return;
        }
        $quizids = $DB->get_fieldset_sql(
            "SELECT DISTINCT qa.quiz
               FROM {quiz_attempts} qa
               JOIN {quizaccess_proctorpy} p ON p.quizid = qa.quiz
              WHERE p.enabled = 1 AND p.alerts = 1 AND qa.state IN ('inprogress', 'overdue')"
        );
        $client = sidecar_client::from_config();
        foreach ($quizids as $quizid) {
            try {
                $live = $client->json('GET', api::quiz_live((int) $quizid));
            } catch (sidecar_exception $e) {
                mtrace('proctorpy: quiz ' . $quizid . ': ' . $e->getMessage());
                continue;
            }
            foreach ($live['attempts'] ?? [] as $attempt) {
                if (empty($attempt['below_threshold']) || !isset($attempt['attempt_id'])) {
                    continue;
                }
                $attemptid = (int) $attempt['attempt_id'];
                if (!flag_alert::sent($attemptid)) {
                    alert_flagged_attempt::queue($attemptid, [
                        'value' => isset($attempt['score']) ? (float) $attempt['score'] : null,
                        'threshold' => isset($attempt['threshold']) ? (float) $attempt['threshold'] : null,
                    ]);
                    mtrace('proctorpy: attempt ' . $attemptid . ' is flagged; alert queued');
                }
            }
        }
    }
}
