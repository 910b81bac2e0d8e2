<?php
// This file is part of the proctorpy test suite, not of the plugin.
//
// What the journeys do without a browser, through Moodle's own API:
//
//   php quiz_cli.php MOODLEROOT proctor QUIZID JSON
//       store the quiz's proctoring settings (the quizaccess_proctorpy row) from JSON
//       {"intervalmin": .., "intervalmax": .., "imagewidth": .., "identitycheck": .., "threshold": ..,
//        "retentiondays": ..}, as the quiz form does, through the rule's save_settings().
//   php quiz_cli.php MOODLEROOT seb QUIZID
//       require Safe Exam Browser for the quiz, configured manually as the quiz form's "Yes – Configure
//       manually" does, with the camera let through. Prints {"configkey": the config key SEB's requests hash}.
//   php quiz_cli.php MOODLEROOT attempt QUIZID USERNAME PHOTO [SHOTS]
//       as USERNAME: start an attempt (the plugin registers it with the sidecar), send SHOTS camshots
//       (default 1) of PHOTO through the plugin's forwarding external function, answer every
//       question and submit. Prints {"attempt": id}.
//   php quiz_cli.php MOODLEROOT start QUIZID USERNAME PHOTO [SHOTS]
//       the same, but the attempt is left in progress: a student whose camera then went quiet.
//   php quiz_cli.php MOODLEROOT privacy USERNAME export|delete
//       Moodle's privacy manager for the plugin's component: export (prints {"zip": path of a copy
//       readable by the tests, "files": [...]}) or delete the user's data.

define('CLI_SCRIPT', true);
require($argv[1] . '/config.php');
require_once($CFG->dirroot . '/mod/quiz/locallib.php');
require_once($CFG->dirroot . '/mod/quiz/accessrule/proctorpy/rule.php');

$command = $argv[2];

if ($command === 'proctor') {
    $quizid = (int) $argv[3];
    $settings = json_decode($argv[4], true);
    $quiz = (object) ['id' => $quizid, 'proctorpy_enabled' => 1];
    foreach ($settings as $name => $value) {
        $quiz->{'proctorpy_' . $name} = $value;
    }
    quizaccess_proctorpy::save_settings($quiz);
    echo json_encode($DB->get_record('quizaccess_proctorpy', ['quizid' => $quizid])), "\n";
    exit(0);
}

if ($command === 'seb') {
    $quizid = (int) $argv[3];
    $cm = get_coursemodule_from_instance('quiz', $quizid, 0, false, MUST_EXIST);
    $settings = new \quizaccess_seb\seb_quiz_settings(0, (object) ['quizid' => $quizid, 'cmid' => $cm->id,
        'requiresafeexambrowser' => \quizaccess_seb\settings_provider::USE_SEB_CONFIG_MANUALLY,
        'allowcapturecamera' => 1]);
    $settings->create();
    echo json_encode(['configkey' => $settings->get_config_key()]), "\n";
    exit(0);
}

if ($command === 'attempt' || $command === 'start') {
    [, , , $quizid, $username, $photo] = $argv;
    $shots = (int) ($argv[6] ?? 1);
    // Minutes the attempt is said to have lasted: its start is moved back, and the sidecar told again.
    $minutes = (int) ($argv[7] ?? 0);
    $user = $DB->get_record('user', ['username' => $username], '*', MUST_EXIST);
    \core\session\manager::set_user($user);
    $quizobj = \mod_quiz\quiz_settings::create((int) $quizid, $user->id);
    $quizobj->preload_questions();
    $quizobj->load_questions();
    $previous = $DB->count_records('quiz_attempts', ['quiz' => $quizid, 'userid' => $user->id]);
    $attempt = quiz_prepare_and_start_new_attempt($quizobj, $previous + 1, null);
    if ($minutes > 0) {
        $DB->set_field('quiz_attempts', 'timestart', time() - 60 * $minutes, ['id' => $attempt->id]);
        \quizaccess_proctorpy\local\proctored_attempt::load((int) $attempt->id)->register();
    }
    $bytes = file_get_contents($photo);
    for ($i = 0; $i < $shots; $i++) {
        \quizaccess_proctorpy\external\upload_camshot::execute((int) $attempt->id, (int) (microtime(true) * 1000),
            'cli' . $attempt->id . 'n' . $i, 'attempt', base64_encode($bytes));
    }
    if ($command === 'start') {
        echo json_encode(['attempt' => (int) $attempt->id]), "\n";
        exit(0);
    }
    $attemptobj = \mod_quiz\quiz_attempt::create($attempt->id);
    $responses = [];
    foreach ($attemptobj->get_slots() as $slot) {
        $responses[$slot] = ['answer' => 1];
    }
    $attemptobj->process_submitted_actions(time(), false, $responses);
    $attemptobj = \mod_quiz\quiz_attempt::create($attempt->id);
    $attemptobj->process_finish(time(), false);
    echo json_encode(['attempt' => (int) $attempt->id]), "\n";
    exit(0);
}

if ($command === 'privacy') {
    [, , , $username, $action] = $argv;
    $user = $DB->get_record('user', ['username' => $username], '*', MUST_EXIST);
    \core\session\manager::set_user(get_admin());
    $manager = new \core_privacy\manager();
    $component = 'quizaccess_proctorpy';
    $found = $manager->get_contexts_for_userid($user->id);
    $approved = new \core_privacy\local\request\contextlist_collection($user->id);
    foreach ($found as $contextlist) {
        if ($contextlist->get_component() === $component) {
            $approved->add_contextlist(new \core_privacy\local\request\approved_contextlist($user, $component,
                $contextlist->get_contextids()));
        }
    }
    $contextids = $approved->get_contextlist_for_component($component);
    $contextids = $contextids ? $contextids->get_contextids() : [];
    if ($action === 'export') {
        $zip = $manager->export_user_data($approved);
        $copy = make_temp_directory('proctorpy-privacy') . '/export-' . $user->id . '.zip';
        copy($zip, $copy);
        chmod($copy, 0644);
        $archive = new ZipArchive();
        $archive->open($copy);
        $files = [];
        for ($i = 0; $i < $archive->numFiles; $i++) {
            $files[] = $archive->getNameIndex($i);
        }
        echo json_encode(['zip' => $copy, 'files' => $files, 'contexts' => $contextids]), "\n";
    } else {
        $manager->delete_data_for_user($approved);
        echo json_encode(['deleted' => $contextids]), "\n";
    }
    exit(0);
}

if ($command === 'wstoken') {
    // What an admin does in Site administration > Server > Web services: web services and REST on, the plugin's
    // service enabled, the user allowed to use REST (a system role), a token for the user and the service.
    $username = $argv[3];
    set_config('enablewebservices', 1);
    $protocols = array_filter(explode(',', (string) ($CFG->webserviceprotocols ?? '')));
    if (!in_array('rest', $protocols, true)) {
        $protocols[] = 'rest';
        set_config('webserviceprotocols', implode(',', $protocols));
    }
    $service = $DB->get_record('external_services', ['shortname' => 'quizaccess_proctorpy_reports'], '*', MUST_EXIST);
    $DB->set_field('external_services', 'enabled', 1, ['id' => $service->id]);
    $system = context_system::instance();
    $roleid = $DB->get_field('role', 'id', ['shortname' => 'proctorpyws']);
    if (!$roleid) {
        $roleid = create_role('Web service user', 'proctorpyws', 'May use the REST protocol');
        set_role_contextlevels($roleid, [CONTEXT_SYSTEM]);
        assign_capability('webservice/rest:use', CAP_ALLOW, $roleid, $system->id, true);
    }
    $user = $DB->get_record('user', ['username' => $username], '*', MUST_EXIST);
    role_assign($roleid, $user->id, $system->id);
    \core\session\manager::set_user(get_admin());
    $token = \core_external\util::generate_token(EXTERNAL_TOKEN_PERMANENT, $service, (int) $user->id, $system);
    echo json_encode(['token' => $token, 'service' => (int) $service->id]), "\n";
    exit(0);
}

fwrite(STDERR, "unknown command $command\n");
exit(2);
