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
 * Strings for the proctorpy quiz access rule.
 *
 * @package    quizaccess_proctorpy
 * @copyright  2026 The proctorpy authors
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$string['alertbody'] = 'The proctoring score of {$a->student}\'s attempt at {$a->quiz} ({$a->course}) is {$a->score}, below the quiz\'s threshold of {$a->threshold}. Look at the attempt\'s proctoring report before you decide anything: {$a->url}';
$string['alertbodyhtml'] = '<p>The proctoring score of {$a->student}\'s attempt at {$a->quiz} ({$a->course}) is {$a->score}, below the quiz\'s threshold of {$a->threshold}.</p><p><a href="{$a->url}">Open the attempt\'s proctoring report</a> before you decide anything: a low score is a reason to look, not a verdict.</p>';
$string['alertlink'] = 'Proctoring report of the attempt';
$string['alerts'] = 'Notify teachers of flagged attempts';
$string['alerts_help'] = 'When on, the users who may view this quiz\'s proctoring reports (in a quiz with groups, those of the student\'s groups and those who may access all groups) get one Moodle notification per attempt whose score falls below the threshold, during the attempt or when it ends, with a link to its report. Each decides in their notification preferences whether it comes as a popup, an email or both.';
$string['alertsmall'] = '{$a->student}\'s attempt at {$a->quiz} is flagged: proctoring score {$a->score}.';
$string['alertsubject'] = 'Flagged attempt: {$a->student}, {$a->quiz} (proctoring score {$a->score})';
$string['attemptpurged'] = 'The attempt\'s proctoring data was deleted from the sidecar.';
$string['bypasscurlsecurity'] = 'Reach the sidecar despite Moodle\'s HTTP security';
$string['bypasscurlsecurity_desc'] = 'Moodle\'s HTTP security (curlsecurityblockedhosts, curlsecurityallowedport) blocks loopback addresses and ports other than 80 and 443, where the sidecar usually listens. When this is on, the plugin skips that check for the sidecar URL above only. When it is off, the URL must be allowed in those settings.';
$string['camera_absent'] = 'No camera was found. Connect a webcam and reload this page.';
$string['camera_blocked'] = 'The browser blocks the camera for this site. Allow camera access (the camera icon in the address bar), then reload this page. In Safe Exam Browser, the exam\'s configuration must allow the camera.';
$string['camera_busy'] = 'The camera is in use by another program or tab. Close it, then reload this page.';
$string['camera_failed'] = 'The camera could not be started. Check it and reload this page.';
$string['camera_insecure'] = 'The camera is only available on secure (HTTPS) pages. Ask the site administrator to serve Moodle over HTTPS.';
$string['camerapreview'] = 'Camera preview';
$string['cameraready'] = 'The camera works. You can start the attempt.';
$string['camerareadyphoto'] = 'The camera works. Start the identity check when you are ready.';
$string['camerawaiting'] = 'Waiting for the camera. Allow camera access if the browser asks.';
$string['captureheading'] = 'Capture defaults';
$string['challenge_closer'] = 'Move closer to the camera.';
$string['challenge_left'] = 'Turn your head to your left, then back.';
$string['challenge_right'] = 'Turn your head to your right, then back.';
$string['conclusion_accepted'] = 'Accepted';
$string['conclusion_rejected'] = 'Rejected';
$string['connection_badsecret'] = 'The sidecar at {$a->url} answers, but refuses the signature: the shared secret here differs from the sidecar\'s. ({$a->message})';
$string['connection_blocked'] = 'Moodle\'s HTTP security blocks {$a->url}. Turn on "Reach the sidecar despite Moodle\'s HTTP security", or allow the host and port in curlsecurityblockedhosts and curlsecurityallowedport.';
$string['connection_clockskew'] = 'The clocks of Moodle and the sidecar differ by more than the 300 s the sidecar accepts: {$a->message} Keep both hosts in time with NTP.';
$string['connection_notsidecar'] = 'Something answers at {$a->url} (HTTP {$a->status}), but it is not a proctorpy sidecar.';
$string['connection_ok'] = 'Connected to the sidecar at {$a->url} (version {$a->version}, API {$a->api}); signatures are accepted and the clocks agree ({$a->skew} s).';
$string['connection_refused'] = 'The sidecar at {$a->url} refused the signed test call: {$a->message}';
$string['connection_unreachable'] = 'No answer from the sidecar at {$a->url}: {$a->message} Check that it is running and that the URL is right.';
$string['connection_versionmismatch'] = 'The sidecar at {$a->url} speaks API {$a->api}, this plugin speaks {$a->expected}. Install matching versions.';
$string['consentagree'] = 'I agree to be photographed by my webcam during this attempt.';
$string['consenttext'] = 'Consent text';
$string['consenttext_default'] = '<p>This quiz is proctored. While you take it, your webcam takes photos at random moments, and the quiz records when you leave its tab or window. The photos are analysed on this institution\'s own server to check that you are the one taking the quiz, alone. Your teachers can see the photos and the analysis. They are deleted after the retention period.</p>';
$string['consenttext_desc'] = 'Shown to students before a proctored attempt. Leave empty for the standard text.';
$string['consoleurl'] = 'Console public URL';
$string['consoleurl_desc'] = 'Address of the sidecar console as administrators\' browsers reach it (often through the web server). Leave empty to use the sidecar URL.';
$string['directcheck_blocked'] = 'Moodle\'s HTTP security blocks {$a->url}, so the public path could not be tested from here. Turn on "Reach the sidecar despite Moodle\'s HTTP security", or test it from a browser: {$a->url}/healthz must answer with the sidecar\'s status.';
$string['directcheck_noapi'] = '{$a->url}/healthz reaches the sidecar, but {$a->url}/api/v1/direct/ does not (HTTP {$a->status}). The web server must pass both /healthz and /api/v1/direct/ under the public path to the sidecar; see deploy/ for nginx and Apache.';
$string['directcheck_notsidecar'] = 'The public path {$a->url} answers (HTTP {$a->status}), but not with the sidecar\'s status: the web server does not proxy it to the sidecar yet. Browsers would fall back to forwarding through Moodle. See deploy/ for nginx and Apache.';
$string['directcheck_ok'] = 'Direct upload: browsers reach the sidecar at {$a->url} (API {$a->api}), and its upload endpoints answer.';
$string['directcheck_unreachable'] = 'Direct upload: no answer from {$a->url}: {$a->message} Browsers would fall back to forwarding through Moodle.';
$string['downloadcsv'] = 'Download CSV';
$string['downloadpdf'] = 'Download PDF';
$string['enabled'] = 'Webcam proctoring';
$string['enabled_help'] = 'When on, students consent and check their camera before an attempt, and their webcam takes photos during it for the proctoring report.';
$string['err_attemptnotinprogress'] = 'This attempt is not in progress.';
$string['err_conclusion'] = 'The conclusion must be accepted or rejected.';
$string['err_consent'] = 'You must agree to webcam proctoring to start this quiz.';
$string['err_download'] = 'Unknown download.';
$string['err_identitycheck'] = 'Choose an identity check.';
$string['err_identitypending'] = 'Your identity has not been confirmed yet. Take the photo; if the check keeps failing, ask your teacher, who can let your attempt go on.';
$string['err_identitystepover'] = 'The identity check of this attempt is over.';
$string['err_imageaspect'] = 'The camshot is more than 4 times as wide as it is tall, or as tall as it is wide; a camera does not take such images.';
$string['err_imagenotbase64'] = 'The camshot is not base64 data.';
$string['err_imagesides'] = 'The camshot is wider or taller than 4096 pixels.';
$string['err_imagetoolarge'] = 'The camshot is larger than 4 MB.';
$string['err_imagetype'] = 'The camshot is neither a JPEG nor a PNG image.';
$string['err_imagewidth'] = 'Enter a whole number of pixels from {$a->min} to {$a->max}.';
$string['err_interval'] = 'Enter a whole number of seconds from {$a->min} to {$a->max}.';
$string['err_intervalorder'] = 'The longest interval must not be shorter than the shortest.';
$string['err_nocamera'] = 'The camera has not delivered an image yet. Allow camera access and wait for the preview.';
$string['err_notproctored'] = 'This quiz is not proctored.';
$string['err_notyourattempt'] = 'This is not your attempt.';
$string['err_retentiondays'] = 'Enter a whole number of days from 1 to {$a}, or leave empty for the site\'s retention.';
$string['err_threshold'] = 'Enter a whole number from 0 to 100.';
$string['eventidentitycheckwaived'] = 'Identity check waived';
$string['identitycheck'] = 'Identity check at the start';
$string['identitycheck_face'] = 'A face must be seen';
$string['identitycheck_help'] = 'At the start of the attempt the student follows an instruction the sidecar draws at random (move closer to the camera, or turn the head to one side) while the camera takes a few photos, checked at once: the photos must show a live face following it, not a still picture nor the profile photo; then none; a face must be seen; or the face must match the student\'s Moodle profile photo. After a refusal the student tries again with a new instruction, three times at most by default. No question is shown until a check passes, or until a teacher lets the attempt go on from the proctoring report.';
$string['identitycheck_match'] = 'The face must match the profile photo';
$string['identitycheck_none'] = 'None';
$string['identitychecking'] = 'Checking…';
$string['identityfollow'] = 'Now: {$a}';
$string['identityinstructions'] = 'Sit alone in front of the camera, in good light. When you start the check, an instruction appears (move closer, or turn your head to one side and back): follow it while the camera takes a few photos.';
$string['identitynotice'] = 'At the start of the attempt you will take a photo to confirm your identity.';
$string['identitypassed'] = 'You can now start the attempt.';
$string['identityretry'] = 'Start the check again: a new instruction appears. If it keeps failing, ask your teacher: they can let your attempt go on.';
$string['identitystate_never'] = 'Identity check: no photo passed before the attempt ended.';
$string['identitystate_notstarted'] = 'Identity check: the attempt has not started yet; the student takes the photo once it starts.';
$string['identitystate_passed'] = 'Identity check: passed on {$a}.';
$string['identitystate_pending'] = 'Identity check: no photo has passed yet; the student waits at the identity check and sees no question.';
$string['identitystate_waived'] = 'Identity check: waived by {$a->by} on {$a->time}.';
$string['identitytake'] = 'Start the identity check';
$string['identitytitle'] = 'Identity check';
$string['identityunavailable'] = 'The photo could not be checked ({$a}). Try again in a moment; if it keeps failing, ask your teacher: they can let your attempt go on.';
$string['identitywaiting'] = 'Waiting at the identity check: these students see no question until a photo passes or you let their attempt go on.';
$string['identitywaitingsince'] = 'since {$a}';
$string['identitywaitteacher'] = 'Your identity could not be confirmed, and no more tries are left. Ask your teacher: they can let your attempt go on from the proctoring report.';
$string['identitywaive'] = 'Let the attempt go on';
$string['identitywaiveconfirm'] = 'Let this attempt go on without a passing identity check? The decision is logged with your name.';
$string['identitywaived'] = 'The attempt goes on: the student can now start it.';
$string['imagewidth'] = 'Camshot width';
$string['imagewidth_desc'] = 'Default width camshots are scaled to, in pixels.';
$string['imagewidth_help'] = 'Width in pixels each camshot is scaled to before it is sent. Larger images show more detail and cost more storage.';
$string['indicator_off'] = 'Camera off';
$string['indicator_on'] = 'Camera on';
$string['indicator_reconnecting'] = 'Camera on, reconnecting';
$string['indicator_starting'] = 'Camera starting';
$string['intervalmax'] = 'Longest interval between camshots';
$string['intervalmax_desc'] = 'Default, in seconds.';
$string['intervalmax_help'] = 'Camshots are taken at random moments; the time between two is at most this many seconds.';
$string['intervalmin'] = 'Shortest interval between camshots';
$string['intervalmin_desc'] = 'Default, in seconds.';
$string['intervalmin_help'] = 'Camshots are taken at random moments; the time between two is at least this many seconds.';
$string['live_event_focus_back'] = 'Back in the quiz window';
$string['live_event_focus_lost'] = 'Left the quiz window';
$string['live_event_tab_hidden'] = 'Quiz tab hidden';
$string['live_event_tab_visible'] = 'Back on the quiz tab';
$string['live_problem_below_threshold'] = 'Score below the threshold';
$string['live_problem_camera_quiet'] = 'Camera quiet';
$string['live_problem_left_page'] = 'Left the quiz page';
$string['live_problem_mismatch'] = 'Face does not match';
$string['live_problem_multiple_faces'] = 'Several faces';
$string['live_problem_no_face'] = 'No face';
$string['live_problem_substitution'] = 'Another student on camera';
$string['live_verdict_mismatch'] = 'Face does not match';
$string['live_verdict_multiple_faces'] = 'Several faces';
$string['live_verdict_no_face'] = 'No face';
$string['live_verdict_ok'] = 'Face ok';
$string['live_verdict_pending'] = 'Not analysed yet';
$string['live_verdict_substitution'] = 'Another student: {$a}';
$string['live_verdict_unreadable'] = 'Photo unreadable';
$string['livecameraquiet'] = 'Camera quiet: no camshot for {$a}';
$string['livecamshotalt'] = 'Latest camshot of {$a}';
$string['liveerror'] = 'The live view could not be refreshed: {$a} It keeps trying; the tiles below are from the last answer.';
$string['liveflaggedonly'] = 'Flagged only: attempts with a problem now';
$string['liveheading'] = 'Live view of the attempts in progress';
$string['liveintro'] = 'One tile per attempt in progress, those with a problem first: the latest camshot and its verdict, the time since it was taken, when the student left the quiz page, and the score so far. The view refreshes itself every {$a} seconds, and pauses while this tab is hidden.';
$string['livelastevent'] = 'Latest: {$a->event}, {$a->ago} ago';
$string['livelastshot'] = 'Last camshot {$a} ago';
$string['liveleftpage'] = 'Left the quiz page {$a->count} times in the last {$a->minutes} minutes';
$string['liveleftpageonce'] = 'Left the quiz page once in the last {$a->minutes} minutes';
$string['livenone'] = 'No attempt is in progress. Tiles appear here as students start the quiz.';
$string['livenoneflagged'] = 'No attempt in progress has a problem now.';
$string['livenoscore'] = 'No score yet';
$string['livenoshot'] = 'No camshot yet';
$string['livenoshotfor'] = 'Camera quiet: no camshot in the attempt\'s first {$a}';
$string['liveopenreport'] = 'Open the attempt\'s report';
$string['livepaused'] = 'Refreshing is paused while this tab is hidden.';
$string['livescore'] = 'Score so far: {$a->score} (threshold {$a->threshold})';
$string['livesummary'] = '{$a->total} attempts in progress, {$a->flagged} with a problem now.';
$string['livesummaryone'] = 'One attempt in progress, {$a->flagged} with a problem now.';
$string['livetitle'] = 'Live view: {$a}';
$string['liveupdated'] = 'Updated at {$a}.';
$string['liveview'] = 'Watch the exam live';
$string['messageprovider:attemptflagged'] = 'A proctored quiz attempt was flagged';
$string['nostudentstolist'] = 'No students to list: the group chosen has no members, or you are in none of this quiz\'s groups.';
$string['openconsole'] = 'Open the sidecar console';
$string['pluginname'] = 'Webcam proctoring (proctorpy)';
$string['preflightheader'] = 'Webcam proctoring';
$string['privacy:metadata:quizaccess_proctorpy'] = 'Proctoring settings of each quiz; no personal data.';
$string['privacy:metadata:quizaccess_proctorpy:enabled'] = 'Whether the quiz is proctored.';
$string['privacy:metadata:quizaccess_proctorpy:quizid'] = 'The quiz.';
$string['privacy:metadata:quizaccess_proctorpy_alert'] = 'The alert sent to the quiz\'s teachers when an attempt\'s score fell below the threshold, one per attempt.';
$string['privacy:metadata:quizaccess_proctorpy_alert:attemptid'] = 'The quiz attempt.';
$string['privacy:metadata:quizaccess_proctorpy_alert:recipients'] = 'How many users were notified.';
$string['privacy:metadata:quizaccess_proctorpy_alert:score'] = 'The attempt\'s credibility score when the alert was sent.';
$string['privacy:metadata:quizaccess_proctorpy_alert:timecreated'] = 'When the alert was sent.';
$string['privacy:metadata:quizaccess_proctorpy_idcheck'] = 'How the identity check at the start of each attempt ended.';
$string['privacy:metadata:quizaccess_proctorpy_idcheck:attemptid'] = 'The quiz attempt.';
$string['privacy:metadata:quizaccess_proctorpy_idcheck:outcome'] = 'Whether a photo passed or a teacher let the attempt go on without.';
$string['privacy:metadata:quizaccess_proctorpy_idcheck:timecreated'] = 'When the identity check ended.';
$string['privacy:metadata:quizaccess_proctorpy_idcheck:waivedby'] = 'The teacher who let the attempt go on.';
$string['privacy:metadata:sidecar'] = 'The proctoring sidecar, a service run by this institution, stores and analyses what the webcam captures during proctored attempts.';
$string['privacy:metadata:sidecar:analysis'] = 'Faces found in each camshot, where they are, their distance to the reference photos, and another student of the quiz whose face matched.';
$string['privacy:metadata:sidecar:attempt'] = 'The attempt, its quiz and course, and when it started and ended.';
$string['privacy:metadata:sidecar:auditlog'] = 'Who viewed, downloaded, reviewed or deleted proctoring data (Moodle id and full name), what and when.';
$string['privacy:metadata:sidecar:camshots'] = 'Webcam photos taken during the attempt, and at the identity check the frames taken while the user follows its challenge: only the one facing the camera is kept, the others are read and dropped.';
$string['privacy:metadata:sidecar:events'] = 'When the user left or came back to the quiz\'s tab or window, or the camera stopped.';
$string['privacy:metadata:sidecar:faceencodings'] = 'The face encoding (128 measurements of the face: biometric data) made from each reference photo, to which the faces in camshots are compared.';
$string['privacy:metadata:sidecar:fullname'] = 'The user\'s full name.';
$string['privacy:metadata:sidecar:referencephoto'] = 'The user\'s Moodle profile picture, and the photo taken at an attempt\'s identity check, as references for face matching.';
$string['privacy:metadata:sidecar:review'] = 'The reviewer\'s conclusion and comment on the attempt.';
$string['privacy:metadata:sidecar:reviewer'] = 'The Moodle id and full name of the teacher who recorded a review conclusion.';
$string['privacy:metadata:sidecar:score'] = 'The attempt\'s credibility score, how it was computed, and whether it is flagged.';
$string['privacy:metadata:sidecar:userid'] = 'The user\'s Moodle id.';
$string['privacyalerts'] = 'Alerts about flagged attempts';
$string['proctorednotice'] = 'This quiz is proctored: your webcam takes photos during the attempt.';
$string['proctorpy:bypass'] = 'Take proctored quizzes without webcam capture';
$string['proctorpy:deleteimages'] = 'Delete proctoring data of attempts';
$string['proctorpy:downloadimages'] = 'Open proctoring camshots full size and download PDF reports with them';
$string['proctorpy:reviewattempt'] = 'Record a review conclusion on proctored attempts';
$string['proctorpy:viewreport'] = 'View proctoring reports with camshot thumbnails, and download the overview as CSV';
$string['proctorpy:waiveidentitycheck'] = 'Let attempts go on whose identity check did not pass';
$string['publicpath'] = 'Public path';
$string['publicpath_desc'] = 'Path on this Moodle host that the web server proxies to the sidecar, e.g. /proctorpy/. Only {path}/healthz and {path}/api/v1/direct/ need to pass. Used in direct upload mode.';
$string['publicpath_invalid'] = 'Enter an absolute path of plain segments, such as /proctorpy/: letters, digits, dots, hyphens and underscores between slashes, with no . or .. segment.';
$string['purgeattempt'] = 'Delete this attempt\'s proctoring data';
$string['purgeconfirm'] = 'Delete every camshot, event and analysis of this attempt from the sidecar? This cannot be undone.';
$string['purgeondelete'] = 'Delete proctoring data with Moodle\'s';
$string['purgeondelete_desc'] = 'When an attempt, quiz or course is deleted in Moodle, delete its proctoring data from the sidecar too. When off, the sidecar\'s retention policy decides.';
$string['reporttitle'] = 'Proctoring report: {$a}';
$string['requesttimeout'] = 'Request timeout';
$string['requesttimeout_desc'] = 'Seconds Moodle waits for the sidecar on each call.';
$string['retentiondays'] = 'Retention override (days)';
$string['retentiondays_help'] = 'Days after the attempt ends that the sidecar keeps this quiz\'s camshots. Leave empty for the site\'s retention policy.';
$string['reviewcomment'] = 'Comment';
$string['reviewheading'] = 'Review conclusion';
$string['reviewsave'] = 'Save conclusion';
$string['reviewsaved'] = 'The review conclusion was saved.';
$string['secret'] = 'Shared secret';
$string['secret_desc'] = 'The secret the sidecar is configured with; every call is signed with it.';
$string['sidecarerror'] = 'The proctoring sidecar could not answer: {$a}';
$string['sidecarheading'] = 'Sidecar';
$string['sidecarrefused'] = 'The proctoring sidecar refused the request: {$a}';
$string['sidecarunavailable'] = 'The proctoring sidecar is not reachable at the moment.';
$string['sidecarurl'] = 'Sidecar URL';
$string['sidecarurl_desc'] = 'Where Moodle reaches the sidecar, e.g. http://127.0.0.1:8765.';
$string['task_alertflaggedattempt'] = 'Notify teachers of a flagged proctored attempt';
$string['task_sidecarcall'] = 'Send a notice to the proctoring sidecar';
$string['task_watchflaggedattempts'] = 'Find flagged attempts among proctored attempts in progress';
$string['testconnection'] = 'Test connection';
$string['threshold'] = 'Score threshold';
$string['threshold_desc'] = 'Default credibility score (0 to 100) below which attempts are flagged.';
$string['threshold_help'] = 'Attempts whose credibility score is below this number (0 to 100) are flagged in the report.';
$string['tokenlifetime'] = 'Longest upload token lifetime';
$string['tokenlifetime_desc'] = 'In direct upload mode each attempt page gets a token that lets its browser post that attempt\'s camshots. It lasts until the attempt\'s time limit ends (plus 15 minutes), and never longer than this.';
$string['uploadheading'] = 'Upload';
$string['uploadmode'] = 'Upload mode';
$string['uploadmode_desc'] = 'Forwarded: each camshot goes through Moodle, one Moodle request per camshot. Direct: browsers post camshots to the sidecar through the public path below, which spares Moodle that work on large sites; it needs a web server rule (deploy/ in the proctorpy repository). When direct uploads fail, the browser falls back to forwarding by itself and the report shows it.';
$string['uploadmode_direct'] = 'Direct, through the public path';
$string['uploadmode_forwarded'] = 'Forwarded through Moodle';
$string['viewreport'] = 'View Proctoring Report';
