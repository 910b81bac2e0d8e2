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
 * The alert about one flagged attempt, or a later look at its score.
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
 * Sends the alert about an attempt the sidecar flagged, or asks the sidecar for the attempt's stored score and
 * alerts if it is flagged, looking again later while the score is not final.
 *
 * Custom data: attemptid; score (value and threshold) when the attempt is known to be flagged, else null;
 * rechecks, how many more looks an unfinal score gets. A sidecar that cannot answer now makes the task fail,
 * so Moodle's task runner retries it.
 */
class alert_flagged_attempt extends \core\task\adhoc_task {
    /**
     * Queue the alert (with its score) or a look at the score (without).
     *
     * @param int $attemptid quiz attempt id
     * @param array|null $score ['value' => float|null, 'threshold' => float|null] of a flagged attempt, null to ask
     * @param int $rechecks looks left after this one while the score is not final
     * @param int $delay seconds before the task runs
     */
    public static function queue(int $attemptid, ?array $score, int $rechecks = 0, int $delay = 0): void {
        $task = new self();
        $task->set_custom_data(['attemptid' => $attemptid, 'score' => $score, 'rechecks' => $rechecks]);
        if ($delay > 0) {
            $task->set_next_run_time(time() + $delay);
        }
        // The same alert queued twice (two runs of the scheduled task before cron got to it) runs once.
        \core\task\manager::queue_adhoc_task($task, true);
    }

    /**
     * Name shown in the task logs.
     *
     * @return string
     */
    public function get_name() {
        return get_string('task_alertflaggedattempt', 'quizaccess_proctorpy');
    }

    /**
     * Alert, or look at the score.
     *
     * @throws sidecar_exception when the sidecar may answer later
     */
    public function execute() {
        global $DB;
        $data = $this->get_custom_data();
        $attemptid = (int) $data->attemptid;
        $quizid = $DB->get_field('quiz_attempts', 'quiz', ['id' => $attemptid]);
        if (!$quizid || !flag_alert::quiz_alerts((int) $quizid) || flag_alert::sent($attemptid)) {
            return;
        }
        if (!empty($data->score)) {
            $count = flag_alert::send(
                $attemptid,
                isset($data->score->value) ? (float) $data->score->value : null,
                isset($data->score->threshold) ? (float) $data->score->threshold : null
            );
            mtrace('proctorpy: attempt ' . $attemptid . ' flagged, ' . $count . ' notified');
            return;
        }
        try {
            $detail = sidecar_client::from_config()->json('GET', api::attempt($attemptid));
        } catch (sidecar_exception $e) {
            if ($e->is_transient()) {
                throw $e;
            }
            mtrace('proctorpy: the score of attempt ' . $attemptid . ' could not be read: ' . $e->getMessage());
            return;
        }
        $score = is_array($detail['score'] ?? null) ? $detail['score'] : null;
        if (!flag_alert::stored_score($attemptid, $score) && (int) $data->rechecks > 0) {
            self::queue($attemptid, null, (int) $data->rechecks - 1, flag_alert::RECHECK_DELAY);
        }
    }
}
