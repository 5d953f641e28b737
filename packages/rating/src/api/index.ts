export { ratingApi, buildRatingServer, type RatingApiOptions, type RatingServerOptions } from './rating-api.js';
export { CloudKittyError } from './errors.js';
